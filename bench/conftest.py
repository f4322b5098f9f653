"""pytest-benchmark plumbing for bench/: sizes, thread counts, one timed runner per test, machine info.

Options (or environment):
  --bench-size full|smoke   (FUSEDRNN_BENCH_SIZE)  default: smoke under --benchmark-disable, else full
  --bench-threads 1,2       (FUSEDRNN_BENCH_THREADS) thread counts every workload runs at
  --bench-note TEXT         (FUSEDRNN_BENCH_NOTE)  a remark stored with the results, e.g. "noisy machine"
  --bench-max-time SECONDS  timing budget per test (rounds = budget / one call, clamped to [5, 200])
"""

from __future__ import annotations

import os
import shlex
import statistics
import sys
import time

import numpy as np
import pytest
import pytest_benchmark
from runners import NotApplicable, NotInstalled, cpu_steal_seconds, environment, import_torch_first, make_runner, why_not
from workloads import sized

import fusedrnn as fr


_session_start = {"wall": time.monotonic(), "steal": cpu_steal_seconds()}


def pytest_configure(config):
    import_torch_first()  # before any numba run: see its docstring


def pytest_addoption(parser):
    group = parser.getgroup("fusedrnn bench")
    group.addoption("--bench-size", choices=("full", "smoke"), default=os.environ.get("FUSEDRNN_BENCH_SIZE"),
                    help="full: the real workloads; smoke: tiny versions (default: smoke with --benchmark-disable)")
    group.addoption("--bench-threads", default=os.environ.get("FUSEDRNN_BENCH_THREADS", "1,2"),
                    help="comma-separated thread counts to run every workload at (default 1,2)")
    group.addoption("--bench-note", default=os.environ.get("FUSEDRNN_BENCH_NOTE", ""),
                    help="a remark stored in the JSON machine info and printed in RESULTS.md")
    group.addoption("--bench-max-time", type=float, default=1.0, help="seconds of timing per test (default 1)")


def bench_size(config) -> str:
    size = config.getoption("--bench-size")
    if size:
        return size
    return "smoke" if config.getoption("benchmark_disable") else "full"


def thread_counts(config) -> list[int]:
    text = config.getoption("--bench-threads")
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise pytest.UsageError(f"--bench-threads: expected comma-separated positive ints, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise pytest.UsageError(f"--bench-threads: expected comma-separated positive ints, got {text!r}")
    return counts


def pytest_generate_tests(metafunc):
    if "threads" in metafunc.fixturenames:
        metafunc.parametrize("threads", thread_counts(metafunc.config), ids=lambda n: f"{n}t")


def pytest_report_header(config):
    return (f"fusedrnn bench: size={bench_size(config)} threads={config.getoption('--bench-threads')} "
            f"backends={fr.backends.available()}")


def pytest_benchmark_update_machine_info(config, machine_info):
    """What RESULTS.md needs to say where and how the numbers were taken."""
    info = environment()
    info["versions"]["pytest_benchmark"] = pytest_benchmark.__version__
    info["loadavg_at_end"] = info.pop("loadavg")  # this hook runs once the benchmarks are done
    steal = cpu_steal_seconds()
    if steal is not None and _session_start["steal"] is not None:
        info["steal"] = {"seconds": steal - _session_start["steal"], "wall": time.monotonic() - _session_start["wall"]}
    machine_info["fusedrnn_bench"] = {
        **info,
        "size": bench_size(config),
        "threads": thread_counts(config),
        "note": config.getoption("--bench-note"),
        "command": "pytest " + shlex.join(config.invocation_params.args),
        "argv": shlex.join(sys.argv),
    }


_reference_outputs: dict[tuple[str, str], np.ndarray | None] = {}


def reference_output(name: str, size: str) -> np.ndarray | None:
    """y from the numpy reference backend on this workload, or None where the reference is not run."""
    key = (name, size)
    if key not in _reference_outputs:
        workload = sized(name, size)
        if why_not("fusedrnn-numpy", workload) is not None:
            _reference_outputs[key] = None
        else:
            runner = make_runner("fusedrnn-numpy", workload, threads=1, warmup=1)
            _reference_outputs[key] = runner.output(runner())
    return _reference_outputs[key]


def _rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = np.linalg.norm(expected.astype(np.float64))
    return float(np.linalg.norm((actual - expected).astype(np.float64)) / max(scale, 1e-30))


def _runner_or_skip(impl: str, name: str, size: str, threads: int):
    """A warmed-up runner, or the test skipped (failed under CI when only an installation is missing)."""
    try:
        return make_runner(impl, sized(name, size), threads, warmup=1 if size == "smoke" else 2)
    except NotInstalled as reason:
        # CI installs every backend and peer (the test extras): a missing one there is a failure.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{impl} on {name}: {reason}")
    except NotApplicable as reason:
        pytest.skip(f"{impl} on {name}: {reason}")


def _rounds(config, once_s: float) -> int:
    """Timed rounds for a call that took ``once_s``: --bench-max-time's budget, clamped to [5, 200]."""
    return int(min(200, max(5, config.getoption("--bench-max-time") / max(once_s, 1e-6))))


@pytest.fixture
def time_workload(benchmark, request):
    """time_workload(impl, name, threads): time one implementation on one workload, then check its result."""
    config = request.config
    size = bench_size(config)

    def run(impl: str, name: str, threads: int) -> None:
        workload = sized(name, size)
        runner = _runner_or_skip(impl, name, size, threads)
        benchmark.group = f"{name} threads={threads}: {workload.describe()}"
        benchmark.extra_info.update(kind="workload", workload=name, impl=impl, threads=threads, size=size,
                                    gflop=workload.gflop, dtype=workload.dtype, describe=workload.describe())
        runner.activate()
        start = time.perf_counter()
        runner()
        result = benchmark.pedantic(runner, rounds=_rounds(config, time.perf_counter() - start), warmup_rounds=1)
        runner.check(result)
        expected = None if impl == "fusedrnn-numpy" else reference_output(name, size)
        if expected is not None:  # a benchmark is also a test: same weights, same answer as the spec
            tolerance = 1e-4 if workload.dtype == "float32" else 1e-9
            error = _rel_err(runner.output(result), expected)
            assert error <= tolerance, f"y: relative error {error:.2e} against the numpy reference > {tolerance:g}"

    return run


@pytest.fixture
def time_alternation(benchmark, request):
    """time_alternation(impl, name, against, threads): one implementation on two workloads, their calls
    alternating round by round (which goes first alternates too), so that both see the same machine.

    Stores the median over rounds of time(name) / time(against) as extra_info["ratio"]: on a machine
    whose speed drifts over minutes, the medians of two separate tests minutes apart carry the drift
    (fusedrnn-cpp's W3-varlen measured 1.14x W3 padded that way, 0.84x in alternation). The
    benchmark's own statistics are of a round, both calls.
    """
    config = request.config
    size = bench_size(config)

    def run(impl: str, name: str, against: str, threads: int) -> None:
        runners = {n: _runner_or_skip(impl, n, size, threads) for n in (name, against)}
        times: dict[str, list[float]] = {name: [], against: []}
        results = {}

        def one_round():
            order = (name, against) if len(times[name]) % 2 == 0 else (against, name)
            for n in order:
                runners[n].activate()
                start = time.perf_counter()
                results[n] = runners[n]()
                times[n].append(time.perf_counter() - start)

        start = time.perf_counter()
        one_round()
        rounds = _rounds(config, time.perf_counter() - start)
        for n in times:  # that round only sized the run
            times[n].clear()
        benchmark.group = f"{name} against {against} threads={threads}: alternating calls"
        benchmark.pedantic(one_round, rounds=rounds)
        for n, runner in runners.items():
            runner.check(results[n])
        ratio = statistics.median(a / b for a, b in zip(times[name], times[against]))
        benchmark.extra_info.update(kind="alternation", workload=name, against=against, impl=impl, threads=threads,
                                    size=size, ratio=ratio, rounds=len(times[name]),
                                    median_ms={n: statistics.median(ts) * 1e3 for n, ts in times.items()})

    return run
