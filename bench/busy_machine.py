"""Issue 5's shared-machine target: with one other busy process on the machine, 2 threads are
never slower than 1.

A child process spins (`while True: pass`) for the whole run. Round by round, each
implementation is timed at 1 thread and at 2, in alternating order, each timed call after one
untimed call of the same runner (bench/interleaved.py's timed_call); the figure per
implementation is the median over rounds of time(2 threads) / time(1 thread). fusedrnn-cpp
meets the target when that is at most 1 + --noise; the peers are printed beside it.

    python bench/busy_machine.py [--workloads W2,W3] [--impls fusedrnn-cpp,torch,onnxruntime]
                                 [--rounds 9] [--noise 0.05] [--size full|smoke]

Prints a Markdown table (for bench/RESULTS.md); exits 1 if fusedrnn-cpp could not run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # runners, workloads, interleaved: bench/'s own modules

from interleaved import timed_call  # noqa: E402
from runners import IMPLS, NotApplicable, make_runner  # noqa: E402
from workloads import SIZES, WORKLOADS, sized  # noqa: E402

TARGET_IMPL = "fusedrnn-cpp"


@dataclass
class Scaling:
    """One implementation on one workload: per-round times at 1 and at 2 threads."""

    workload: str
    impl: str
    one_s: list[float]
    two_s: list[float]

    @property
    def ratio(self) -> float:
        """Median over rounds of time(2 threads) / time(1 thread): above 1, the second thread hurts."""
        return statistics.median(two / one for one, two in zip(self.one_s, self.two_s))


@contextmanager
def busy_process():
    """A child process spinning on one core until the block ends."""
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let the scheduler see it running
        yield child
    finally:
        child.kill()
        child.wait()


def measure(workloads: list[str], impls: list[str], rounds: int, size: str) -> tuple[list[Scaling], list[str]]:
    """Scalings per (workload, impl) measured beside a busy process, and lines saying what could not run."""
    found, problems = [], []
    with busy_process():
        for name in workloads:
            workload = sized(name, size)
            for impl in impls:
                try:
                    runners = {n: make_runner(impl, workload, n) for n in (1, 2)}
                except NotApplicable as reason:
                    problems.append(f"{name}: {impl} not run: {reason}")
                    continue
                times = {1: [], 2: []}
                for r in range(rounds):
                    for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                        seconds, result = timed_call(runners[n])
                        runners[n].check(result)
                        times[n].append(seconds)
                found.append(Scaling(name, impl, times[1], times[2]))
    return found, problems


def table(found: list[Scaling], noise: float) -> str:
    lines = ["| workload | implementation | 1 thread ms | 2 threads ms | time(2) / time(1), median of rounds | "
             f"target (≤ {1 + noise:g}) |", "|---|---|---:|---:|---:|---|"]
    for s in found:
        met = ("yes" if s.ratio <= 1 + noise else "**no**") if s.impl == TARGET_IMPL else "—"
        lines.append(f"| {s.workload} | {s.impl} | {statistics.median(s.one_s) * 1e3:.3g} | "
                     f"{statistics.median(s.two_s) * 1e3:.3g} | {s.ratio:.2f} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="W2,W3", help="comma-separated workload names")
    parser.add_argument("--impls", default=f"{TARGET_IMPL},torch,onnxruntime", help="comma-separated implementations")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--noise", type=float, default=0.05,
                        help="how far above 1 the ratio may be and still count as not slower (default 0.05)")
    parser.add_argument("--size", choices=SIZES, default="full")
    args = parser.parse_args(argv)
    workloads = [w for w in args.workloads.split(",") if w]
    impls = [i for i in args.impls.split(",") if i]
    if TARGET_IMPL not in impls:
        parser.error(f"--impls: expected {TARGET_IMPL} among them, got {args.impls!r}")
    if args.rounds < 1 or args.noise < 0:
        parser.error(f"--rounds and --noise: expected a positive int and a non-negative number, "
                     f"got {args.rounds} and {args.noise}")
    if not workloads or any(w not in WORKLOADS for w in workloads):
        parser.error(f"--workloads: expected names from {list(WORKLOADS)}, got {args.workloads!r}")
    if any(i not in IMPLS for i in impls):
        parser.error(f"--impls: expected names from {list(IMPLS)}, got {args.impls!r}")

    found, problems = measure(workloads, impls, args.rounds, args.size)
    print(f"{args.rounds} rounds beside one busy process, size {args.size}\n")
    print(table(found, args.noise))
    for line in problems:
        print(line, file=sys.stderr)
    return 0 if any(s.impl == TARGET_IMPL for s in found) else 1


if __name__ == "__main__":
    sys.exit(main())
