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


@pytest.fixture
def time_workload(benchmark, request):
    """time_workload(impl, name, threads): time one implementation on one workload, then check its result."""
    config = request.config
    size = bench_size(config)

    def run(impl: str, name: str, threads: int) -> None:
        workload = sized(name, size)
        try:
            runner = make_runner(impl, workload, threads, warmup=1 if size == "smoke" else 2)
        except NotInstalled as reason:
            # CI installs every backend and peer (the test extras): a missing one there is a failure.
            (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{impl} on {name}: {reason}")
        except NotApplicable as reason:
            pytest.skip(f"{impl} on {name}: {reason}")
        benchmark.group = f"{name} threads={threads}: {workload.describe()}"
        benchmark.extra_info.update(kind="workload", workload=name, impl=impl, threads=threads, size=size,
                                    gflop=workload.gflop, dtype=workload.dtype, describe=workload.describe())
        runner.activate()
        start = time.perf_counter()
        runner()
        once = time.perf_counter() - start
        rounds = int(min(200, max(5, config.getoption("--bench-max-time") / max(once, 1e-6))))
        result = benchmark.pedantic(runner, rounds=rounds, warmup_rounds=1)
        runner.check(result)
        expected = None if impl == "fusedrnn-numpy" else reference_output(name, size)
        if expected is not None:  # a benchmark is also a test: same weights, same answer as the spec
            tolerance = 1e-4 if workload.dtype == "float32" else 1e-9
            error = _rel_err(runner.output(result), expected)
            assert error <= tolerance, f"y: relative error {error:.2e} against the numpy reference > {tolerance:g}"

    return run

