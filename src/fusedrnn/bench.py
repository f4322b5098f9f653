"""`python -m fusedrnn bench`: time fusedrnn's backends against PyTorch and ONNX Runtime on this machine.

A quick subset by default (``--full`` for every workload), a progress bar, a table of
median times with the speed-up over PyTorch and the fraction of the machine's GEMM
ceiling, ``--json FILE`` and ``--plot FILE.png``. Peers that are not installed are
skipped with the reason. The workloads and runners are the ones bench/ times
(fusedrnn.workloads, fusedrnn.bench_runners).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass

from .bench_runners import (
    ADAPTER,
    IMPLS,
    PEERS,
    NotApplicable,
    environment,
    import_torch_first,
    make_gemm_runner,
    make_runner,
    why_not,
)
from .threads import get_num_threads
from .workloads import QUICK, WORKLOADS, Workload, batch_sweep

SWEEP = {"quick": (1, 8, 32), "full": (1, 4, 16, 64)}
CEILING_N = 2048


@dataclass
class Row:
    """One measurement: median seconds of ``rounds`` timed calls."""

    workload: str
    impl: str
    threads: int
    median_s: float
    rounds: int
    gflop: float
    dtype: str
    T: int
    B: int
    describe: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--full", action="store_true",
                        help=f"every workload ({', '.join(WORKLOADS)}); default: the quick subset {', '.join(QUICK)}")
    parser.add_argument("--workloads", type=_names(WORKLOADS), metavar="W1,W3,...",
                        help="comma-separated workloads to run (overrides --full / the quick subset)")
    parser.add_argument("--impls", type=_names(IMPLS), metavar="IMPL,...",
                        help=f"comma-separated implementations (default: all of {', '.join(IMPLS)} that run here)")
    parser.add_argument("--threads", type=int, default=None, help="threads for every implementation "
                        "(default: fusedrnn.get_num_threads(), i.e. OMP_NUM_THREADS or the usable cores)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds of timed calls per measurement (default 0.3, or 1.0 with --full)")
    parser.add_argument("--json", metavar="FILE", help="write every measurement and the machine info as JSON")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="draw the speed-up over PyTorch and time per step against batch size (needs matplotlib)")
    parser.add_argument("--no-sweep", action="store_true",
                        help="skip the batch-size sweep (LSTM T=50 H=256 inference; it runs with --full or --plot)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _names(allowed):
    def parse(text: str) -> list[str]:
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"expected comma-separated names from {list(allowed)}, got {text!r}")
        return names

    return parse


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmarks ``args`` select, print the table; 0 on success, 1 if an implementation failed."""
    if args.plot:
        try:
            import matplotlib  # noqa: F401  (checked before minutes of timing, not after)
        except ImportError:
            print("--plot: needs matplotlib (pip install 'fusedrnn[plot]')", file=sys.stderr)
            return 2
    threads = args.threads or get_num_threads()
    if threads < 1:
        print(f"--threads: expected a positive int, got {threads}", file=sys.stderr)
        return 2
    min_time = args.min_time if args.min_time is not None else (1.0 if args.full else 0.3)
    names = args.workloads or (list(WORKLOADS) if args.full else list(QUICK))
    workloads = [WORKLOADS[name] for name in names]
    if not args.no_sweep and (args.full or args.plot):
        workloads += list(batch_sweep(SWEEP["full" if args.full else "quick"]).values())
    impls = args.impls or list(IMPLS)

    if "torch" in impls:
        import_torch_first()  # before any numba run slows it (see its docstring)
    tasks, skipped = _plan(workloads, impls)
    _say_skipped(skipped, impls, workloads)
    print(f"timing {len(tasks)} runs at {threads} thread{'s' if threads > 1 else ''}, "
          f"~{min_time:g} s each (plus set-up)", file=sys.stderr)

    rows, failures = [], []
    dtypes = sorted({w.dtype for w, _ in tasks})
    with _progress(len(tasks) + len(dtypes), disable=args.no_progress) as bar:
        ceilings = {}
        for dtype in dtypes:
            bar.describe(f"GEMM ceiling {dtype}")
            ceilings[dtype] = _ceiling(dtype, threads, min_time)
            bar.advance()
        for workload, impl in tasks:
            bar.describe(f"{workload.name} {impl}")
            try:
                rows.append(_measure(impl, workload, threads, min_time))
            except NotApplicable as reason:
                skipped.append((workload.name, impl, str(reason)))
            except Exception as error:  # one broken implementation must not hide the others' numbers
                failures.append((workload.name, impl, f"{type(error).__name__}: {error}"))
            bar.advance()

    print(format_table(rows, ceilings))
    for name, impl, why in failures:
        print(f"FAILED {impl} on {name}: {why}", file=sys.stderr)
    if args.json:
        _write_json(args.json, rows, ceilings, threads, skipped, failures)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 1 if failures else 0


def _plan(workloads: list[Workload], impls: list[str]):
    """(workload, impl) pairs that run here, and (workload, impl, reason) for those that do not."""
    tasks, skipped = [], []
    for workload in workloads:
        for impl in impls:
            reason = why_not(impl, workload)
            if reason is None:
                tasks.append((workload, impl))
            else:
                skipped.append((workload.name, impl, reason))
    return tasks, skipped


def _say_skipped(skipped, impls, workloads) -> None:
    """One line per implementation that never runs (peer or backend missing), then per-workload exceptions."""
    by_impl: dict[str, dict[str, str]] = {}
    for name, impl, reason in skipped:
        by_impl.setdefault(impl, {})[name] = reason
    for impl in impls:
        reasons = by_impl.get(impl, {})
        if len(reasons) == len(workloads) and len(set(reasons.values())) == 1:
            kind = "peer" if impl in PEERS else "adapter" if impl == ADAPTER else "backend"
            print(f"skipped {kind} {impl}: {next(iter(reasons.values()))}", file=sys.stderr)
        else:
            for name, reason in reasons.items():
                print(f"not run: {impl} on {name}: {reason}", file=sys.stderr)


def _measure(impl: str, workload: Workload, threads: int, min_time: float) -> Row:
    runner = make_runner(impl, workload, threads)
    runner.activate()
    median, rounds, result = time_calls(runner, min_time)
    runner.check(result)
    return Row(workload.name, impl, threads, median, rounds, workload.gflop, workload.dtype,
               workload.T, workload.B, workload.describe())


def time_calls(step, min_time: float, min_rounds: int = 3, max_rounds: int = 500):
    """(median seconds, rounds, last result) of calling ``step()`` for about ``min_time`` seconds."""
    times, result = [], None
    while len(times) < min_rounds or (sum(times) < min_time and len(times) < max_rounds):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(times), result


def _ceiling(dtype: str, threads: int, min_time: float) -> float:
    """GFLOP/s of a large square numpy.matmul: the machine's GEMM ceiling."""
    step, check, flops = make_gemm_runner(CEILING_N, CEILING_N, CEILING_N, dtype, threads)
    median, _, result = time_calls(step, min_time)
    check(result)
    return flops / 1e9 / median


def format_table(rows: list[Row], ceilings: dict[str, float]) -> str:
    lines = ["", "GEMM ceiling (numpy.matmul, %dx%d): " % (CEILING_N, CEILING_N)
             + ", ".join(f"{dtype} {rate:.1f} GFLOP/s" for dtype, rate in ceilings.items()), ""]
    header = f"{'workload':<10} {'implementation':<16} {'median ms':>10} {'vs torch':>9} {'GFLOP/s':>8} {'of ceiling':>10}"
    lines += [header, "-" * len(header)]
    torch_time = {r.workload: r.median_s for r in rows if r.impl == "torch"}
    last = None
    for r in rows:
        if last is not None and r.workload != last:
            lines.append("")
        last = r.workload
        speedup = f"{torch_time[r.workload] / r.median_s:.2f}x" if r.workload in torch_time else "—"
        rate = r.gflop / r.median_s
        ceiling = ceilings.get(r.dtype)
        fraction = f"{rate / ceiling:.2f}" if ceiling else "—"
        lines.append(f"{r.workload:<10} {r.impl:<16} {r.median_s * 1e3:>10.3f} {speedup:>9} {rate:>8.1f} {fraction:>10}")
    described = dict.fromkeys((r.workload, r.describe) for r in rows)
    lines += [""] + [f"  {name}: {text}" for name, text in described]
    return "\n".join(lines)


def _write_json(path, rows, ceilings, threads, skipped, failures) -> None:
    data = {
        "command": "python -m fusedrnn bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]),
        "threads": threads,
        "environment": environment(),
        "gemm_ceiling_gflops": ceilings,
        "results": [asdict(row) for row in rows],
        "skipped": [dict(workload=w, impl=i, reason=r) for w, i, r in skipped],
        "failed": [dict(workload=w, impl=i, error=e) for w, i, e in failures],
    }
    with open(path, "w") as out:
        json.dump(data, out, indent=2)


def plot(rows: list[Row], path: str) -> None:
    """Left: speed-up over PyTorch per workload. Right: time per step against batch size (the sweep)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    named = [r for r in rows if r.workload in WORKLOADS]
    torch_time = {r.workload: r.median_s for r in named if r.impl == "torch"}
    names = [name for name in dict.fromkeys(r.workload for r in named) if name in torch_time]
    others = [impl for impl in IMPLS if impl != "torch" and any(r.impl == impl for r in named)]
    if names and others:
        width = 0.8 / len(others)
        for k, impl in enumerate(others):
            heights = [next((torch_time[n] / r.median_s for r in named if r.workload == n and r.impl == impl), 0.0)
                       for n in names]
            bars = left.bar([i + (k - (len(others) - 1) / 2) * width for i in range(len(names))], heights, width,
                            label=impl)
            left.bar_label(bars, fmt="%.2f", fontsize=7)
        left.axhline(1.0, color="black", linewidth=0.8)
        left.set_xticks(range(len(names)), names)
        left.set_ylabel("speed-up over PyTorch (higher is better)")
        left.legend(fontsize=8)
    else:
        left.text(0.5, 0.5, "no PyTorch measurements\n(torch not installed or not selected)",
                  ha="center", va="center", transform=left.transAxes)
    left.set_title(f"Speed-up over torch.nn, {rows[0].threads if rows else '?'} threads")

    sweep = [r for r in rows if r.workload.startswith("S-B")]
    for impl in [i for i in IMPLS if any(r.impl == i for r in sweep)]:
        points = sorted((r.B, r.median_s / r.T * 1e6) for r in sweep if r.impl == impl)
        right.plot([b for b, _ in points], [us for _, us in points], marker="o", label=impl)
    if sweep:
        batches = sorted({r.B for r in sweep})
        right.set_xscale("log", base=2)
        right.set_xticks(batches, [str(b) for b in batches])
        right.set_yscale("log")
        right.legend(fontsize=8)
    else:
        right.text(0.5, 0.5, "no batch sweep (run with --full or --plot)", ha="center", va="center",
                   transform=right.transAxes)
    right.set_xlabel("batch size B")
    right.set_ylabel("µs per time step")
    right.set_title("LSTM T=50 I=H=256 inference: time per step")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class _progress:
    """tqdm when it is installed; otherwise one line rewritten in place (or one line per step if not a tty)."""

    def __init__(self, total: int, disable: bool = False):
        self.total, self.done, self.disable, self.text = total, 0, disable, ""
        self.tqdm = None
        if not disable:
            try:
                from tqdm import tqdm

                self.tqdm = tqdm(total=total, file=sys.stderr, unit="run", leave=False)
            except ImportError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.tqdm is not None:
            self.tqdm.close()
        elif not self.disable and sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 78 + "\r")
        return False

    def describe(self, text: str) -> None:
        self.text = text
        if self.tqdm is not None:
            self.tqdm.set_description(text)
        else:
            self._draw(starting=True)

    def advance(self) -> None:
        self.done += 1
        if self.tqdm is not None:
            self.tqdm.update(1)
        else:
            self._draw(starting=False)

    def _draw(self, starting: bool) -> None:
        if self.disable:
            return
        filled = int(30 * self.done / max(self.total, 1))
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {self.text}"
        if sys.stderr.isatty():
            sys.stderr.write("\r" + line[:78].ljust(78))
            sys.stderr.flush()
        elif starting:  # logs: one line per started run
            print(line, file=sys.stderr)
