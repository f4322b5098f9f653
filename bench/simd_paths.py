"""The C++ core's SIMD paths timed against each other, call for call, on one layer.

    python bench/simd_paths.py --cell lstm --shape 50,32,256,256 --what fwd,bwd --threads 2 --rounds 15

Every path this CPU runs (`_core.simd_paths()`: avx512, avx2+fma, scalar) is timed in one process,
switched with `_core.set_simd_path` before each call: rounds alternate the order of the paths, and
each times `--calls` calls per path and keeps the fastest. Per pass (inf: inference forward, fwd:
training forward, bwd: backward) it prints the median ms of each path and the median over rounds of
time(path) / time(widest path), so the machine's drift stays out of the ratios. The load-adaptive
team size is off, so every call runs the threads asked for.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from ab_builds import GATES, WHAT, layer_call, parse_shape

from fusedrnn import _core


def compare(cell: str, shape: tuple[int, int, int, int], what: str, threads: int, rounds: int, calls: int,
            paths: list[str]) -> dict:
    """Median ms per path and the median per-round ratio of each path's time to the first path's."""
    call = layer_call(_core, cell, shape, what, threads)
    times: dict[str, list[float]] = {p: [] for p in paths}
    adaptive, before = _core.load_adaptive(), _core.simd_path()
    _core.set_load_adaptive(False)
    try:
        for p in paths:  # warm-up: packed weights, pool buffers
            _core.set_simd_path(p)
            call()
        for r in range(rounds):
            for p in (paths if r % 2 == 0 else paths[::-1]):
                _core.set_simd_path(p)
                best = float("inf")
                for _ in range(calls):
                    start = time.perf_counter()
                    call()
                    best = min(best, time.perf_counter() - start)
                times[p].append(best)
    finally:
        _core.set_simd_path(before)
        _core.set_load_adaptive(adaptive)
    widest = times[paths[0]]
    return {"median_ms": {p: statistics.median(v) * 1e3 for p, v in times.items()},
            "ratio": {p: statistics.median(a / b for a, b in zip(v, widest)) for p, v in times.items()}}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=sorted(GATES), default="lstm")
    parser.add_argument("--shape", default="50,32,256,256", help="T,B,I,H (default: W3's)")
    parser.add_argument("--what", default="inf,fwd,bwd", help=f"comma-separated, of {list(WHAT)}")
    parser.add_argument("--paths", default=None, help="comma-separated SIMD paths (default: all this CPU runs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=3, help="calls per path and round; the fastest counts")
    args = parser.parse_args(argv)
    args.shape = parse_shape(parser, args.shape)
    args.what = args.what.split(",")
    if bad := [w for w in args.what if w not in WHAT]:
        parser.error(f"--what: expected some of {list(WHAT)}, got {bad}")
    runnable = _core.simd_paths()
    args.paths = args.paths.split(",") if args.paths else runnable
    if bad := [p for p in args.paths if p not in runnable]:
        parser.error(f"--paths: this CPU runs {runnable}, got {bad}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    T, B, I, H = args.shape
    print(f"{args.cell} T={T} B={B} I={I} H={H}, {args.threads} threads, {args.rounds} rounds; "
          f"ratio = time / time on {args.paths[0]} (median of rounds)\n")
    print("| pass | " + " | ".join(f"{p} ms | ratio" for p in args.paths) + " |")
    print("|---|" + "---:|---:|" * len(args.paths))
    for what in args.what:
        result = compare(args.cell, args.shape, what, args.threads, args.rounds, args.calls, args.paths)
        cells = " | ".join(f"{result['median_ms'][p]:.3g} | {result['ratio'][p]:.2f}" for p in args.paths)
        print(f"| {what} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
