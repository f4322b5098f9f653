"""Issue 5's speed-up targets measured with the implementations interleaved, round by round.

pytest-benchmark times one implementation's rounds, then the next one's: on a shared machine
whose speed drifts over minutes, that drift lands in the ratio (two full runs 25 minutes apart
differed by up to 30 %). Here every round times fusedrnn-cpp and then each peer, so both sides
of a ratio see the same machine; the speed-up is the median of the rounds' ratios.

Alternating has a trap of its own: after a call, a runtime's idle workers keep spinning (here:
ONNX Runtime 40-60 ms, PyTorch about 9 ms), taking a core from whatever runs next in the
process. So each timed call waits until no other thread of the process is running, and follows
an untimed call of the same implementation, as back-to-back rounds would.

    python bench/interleaved.py [--workloads W1,W3] [--threads 2] [--rounds 15] [--size full|smoke]

Prints a Markdown table (for bench/RESULTS.md), then, with two threads or more, how long a cache line
took between two cores before and after the rounds (native.py: the machine's state); exits 1 if a
target's implementations could not run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # runners, workloads, report: bench/'s own modules

from native import with_core_latency  # noqa: E402
from proc_threads import wait_until_idle  # noqa: E402
from report import TARGET_IMPL, TARGETS  # noqa: E402
from runners import NotApplicable, make_runner  # noqa: E402
from workloads import SIZES, sized  # noqa: E402


def settle(timeout: float = 0.5) -> None:
    """Wait, up to ``timeout`` seconds, until the last implementation's idle workers stop spinning."""
    wait_until_idle("self", others_than=1, timeout=timeout)


def timed_call(runner):
    """(seconds, result) of one call, after the process settles and one untimed call."""
    runner.activate()
    settle()
    runner()
    start = time.perf_counter()
    result = runner()
    return time.perf_counter() - start, result


@dataclass
class Pair:
    """One target: fusedrnn-cpp against a peer on one workload, timed in alternation."""

    workload: str
    against: str
    at_least: float
    ours_s: list[float]
    theirs_s: list[float]

    @property
    def speedup(self) -> float:
        """Median over rounds of (peer time / our time), each ratio from one round's adjacent calls."""
        return statistics.median(t / o for o, t in zip(self.ours_s, self.theirs_s))


def measure(workload_names: list[str], threads: int, rounds: int, size: str) -> tuple[list[Pair], list[str]]:
    """The pairs of TARGETS on these workloads, and lines saying which could not run and why."""
    pairs, problems = [], []
    for name in workload_names:
        workload = sized(name, size)
        targets = [(against, at_least) for w, _, against, at_least in TARGETS if w == name]
        runners = {}
        for impl in [TARGET_IMPL] + [against for against, _ in targets]:
            try:
                runners[impl] = make_runner(impl, workload, threads)
            except NotApplicable as reason:
                problems.append(f"{name}: {impl} not run: {reason}")
        if TARGET_IMPL not in runners:
            continue
        times = {impl: [] for impl in runners}
        for _ in range(rounds):
            for impl, runner in runners.items():
                seconds, result = timed_call(runner)
                times[impl].append(seconds)
                runner.check(result)
        pairs += [Pair(name, against, at_least, times[TARGET_IMPL], times[against])
                  for against, at_least in targets if against in runners]
    return pairs, problems


def table(pairs: list[Pair]) -> str:
    lines = ["| workload | target | fusedrnn-cpp ms | peer ms | speed-up (median of rounds) | met |",
             "|---|---|---:|---:|---:|---|"]
    for p in pairs:
        met = "yes" if p.speedup >= p.at_least else "**no**"
        lines.append(f"| {p.workload} | ≥ {p.at_least:g}x {p.against} | {statistics.median(p.ours_s) * 1e3:.3g} | "
                     f"{statistics.median(p.theirs_s) * 1e3:.3g} | {p.speedup:.2f}x | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = list(dict.fromkeys(w for w, *_ in TARGETS))
    parser.add_argument("--workloads", default=",".join(names), help=f"comma-separated, of {names}")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--size", choices=SIZES, default="full")
    args = parser.parse_args(argv)
    chosen = [name for name in args.workloads.split(",") if name]
    unknown = [name for name in chosen if name not in names]
    if unknown or not chosen:
        parser.error(f"--workloads: expected names from {names}, got {args.workloads!r}")
    if args.threads < 1 or args.rounds < 1:
        parser.error(f"--threads and --rounds: expected positive ints, got {args.threads} and {args.rounds}")

    with tempfile.TemporaryDirectory(prefix="interleaved_") as tmp:
        (pairs, problems), latency = with_core_latency(
            args.threads, tmp, lambda: measure(chosen, args.threads, args.rounds, args.size))
    print(f"{args.rounds} rounds at {args.threads} thread{'s' if args.threads > 1 else ''}, size {args.size}\n")
    print(table(pairs))
    if latency:
        print("\n" + latency)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
