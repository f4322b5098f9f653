"""The first calls after a pause, per implementation: what a caller with sporadic requests sees.

After a pause, a runtime's worker threads are asleep; the first call wakes them, and Linux may
put a woken worker on the CPU of the thread that woke it and leave the two there for several ms
while the other CPU idles (csrc/team_placement.h). Each round pauses, waits until no other
thread of the process runs, then times `--calls` calls back to back, for each implementation in
turn; the table gives the median over rounds of each call's time, and of the last one's: the
later calls show what the earlier ones lost.

    python bench/after_idle.py [--workloads W1,W8] [--impls fusedrnn-cpp,onnxruntime,torch] [--threads 2]
                               [--rounds 11] [--calls 4] [--pause 0.3] [--size full|smoke]

Prints a Markdown table (for bench/RESULTS.md); exits 1 if an implementation could not run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # runners, workloads: bench/'s own modules

from proc_threads import wait_until_idle  # noqa: E402
from runners import IMPLS, NotApplicable, import_torch_first, make_runner  # noqa: E402
from workloads import SIZES, WORKLOADS, sized  # noqa: E402


def measure(workloads: list[str], impls: list[str], threads: int, rounds: int, calls: int, pause: float,
            size: str) -> tuple[dict[tuple[str, str], list[list[float]]], list[str]]:
    """Per (workload, impl): for each call after the pause, its seconds in every round; and the
    lines saying what could not run and why."""
    import_torch_first()  # before any numba run (its docstring says why)
    times, problems = {}, []
    for name in workloads:
        runners = {}
        for impl in impls:
            try:
                runners[impl] = make_runner(impl, sized(name, size), threads)
            except NotApplicable as reason:
                problems.append(f"{name}: {impl} not run: {reason}")
        for impl in runners:
            times[(name, impl)] = [[] for _ in range(calls)]
        for _ in range(rounds):
            for impl, runner in runners.items():
                runner.activate()
                time.sleep(pause)
                wait_until_idle("self", others_than=1, timeout=pause)
                for k in range(calls):
                    start = time.perf_counter()
                    result = runner()
                    times[(name, impl)][k].append(time.perf_counter() - start)
                    runner.check(result)
    return times, problems


def table(times: dict[tuple[str, str], list[list[float]]]) -> str:
    """Markdown: a row per (workload, impl), a column per call after the pause (median ms)."""
    calls = len(next(iter(times.values()))) if times else 0
    ordinal = ["1st", "2nd", "3rd"] + [f"{k}th" for k in range(4, calls + 1)]
    lines = ["| workload | implementation | " + " | ".join(f"{o} call ms" for o in ordinal[:calls]) + " |",
             "|---|---|" + "---:|" * calls]
    for (name, impl), per_call in times.items():
        cells = " | ".join(f"{statistics.median(t) * 1e3:.3g}" for t in per_call)
        lines.append(f"| {name} | {impl} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="W1,W8", help=f"comma-separated, of {list(WORKLOADS)}")
    parser.add_argument("--impls", default="fusedrnn-cpp,onnxruntime,torch", help=f"comma-separated, of {list(IMPLS)}")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--pause", type=float, default=0.3, help="seconds idle before each round's calls")
    parser.add_argument("--size", choices=SIZES, default="full")
    args = parser.parse_args(argv)
    workloads = [w for w in args.workloads.split(",") if w]
    impls = [i for i in args.impls.split(",") if i]
    if not workloads or any(w not in WORKLOADS for w in workloads):
        parser.error(f"--workloads: expected names from {list(WORKLOADS)}, got {args.workloads!r}")
    if not impls or any(i not in IMPLS for i in impls):
        parser.error(f"--impls: expected names from {list(IMPLS)}, got {args.impls!r}")
    if args.threads < 1 or args.rounds < 1 or args.calls < 1 or args.pause < 0:
        parser.error(f"--threads, --rounds, --calls: expected positive ints and --pause >= 0, got {args.threads}, "
                     f"{args.rounds}, {args.calls}, {args.pause}")

    times, problems = measure(workloads, impls, args.threads, args.rounds, args.calls, args.pause, args.size)
    print(f"{args.rounds} rounds at {args.threads} thread{'s' if args.threads > 1 else ''}, size {args.size}, "
          f"each after a {args.pause:g} s pause\n")
    print(table(times))
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
