"""What batch1_floor.py and training_floor.py share: their command line, and the implementations
timed round by round beside a C floor (native.py builds it)."""

from __future__ import annotations

import argparse
import statistics

from interleaved import timed_call
from workloads import SIZES


def add_arguments(parser: argparse.ArgumentParser, allowed: tuple[str, ...], default: str) -> None:
    parser.add_argument("--workloads", default=default, help=f"comma-separated, of {list(allowed)}")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--size", choices=SIZES, default="full")


def workload_names(parser: argparse.ArgumentParser, args: argparse.Namespace, allowed: tuple[str, ...]) -> list[str]:
    """--workloads as a list, after the checks of every argument add_arguments gave (parser.error else)."""
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    if not names or any(n not in allowed for n in names):
        parser.error(f"--workloads: expected some of {list(allowed)}, got {args.workloads!r}")
    if args.threads < 1 or args.rounds < 1:
        parser.error(f"--threads and --rounds: expected positive ints, got {args.threads} and {args.rounds}")
    return names


def median_ms(runners: dict, rounds: int) -> dict[str, float]:
    """Each runner's median time over `rounds` rounds (one checked call each, in turn), in ms."""
    times = {impl: [] for impl in runners}
    for _ in range(rounds):
        for impl, runner in runners.items():
            seconds, result = timed_call(runner)
            runner.check(result)
            times[impl].append(seconds * 1e3)
    return {impl: statistics.median(v) for impl, v in times.items()}


def rounds_line(args: argparse.Namespace, what: str) -> str:
    """The table's first line: rounds, threads, size, then what the floors and times are."""
    return f"{args.rounds} rounds at {args.threads} thread{'s' if args.threads > 1 else ''}, size {args.size}; {what}\n"
