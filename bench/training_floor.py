"""The float32 training targets (W3-W7, W9) against this machine's product floor.

A training step's products (forward, dx, the weight gradients: the workloads' GFLOP) cannot run
faster than the machine multiplies packed, cache-warm operands. That rate is measured here, not
assumed: bench/products_floor.c, compiled for this machine, runs register tiles of the C++ core's
shape on every thread with nothing else (no gate math, no tape, no synchronisation), in a process
of its own. Then, round by round, fusedrnn-cpp and torch are timed (bench/interleaved.py's
timed_call). The table gives the products' time at the fastest round's rate, the implementations'
medians over rounds, and how much time each target leaves for everything that is not a product.

    python bench/training_floor.py [--workloads W3,W6] [--threads 2] [--rounds 9] [--size full|smoke]

Prints a Markdown table (for bench/RESULTS.md); exits 1 if the C file does not compile or an
implementation could not run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/'s own modules

from floors import add_arguments, median_ms, rounds_line, workload_names  # noqa: E402
from native import compile_for_this_machine  # noqa: E402
from report import TARGETS  # noqa: E402
from runners import NotApplicable, make_runner  # noqa: E402
from workloads import sized  # noqa: E402

FLOAT32_TRAINING = ("W3", "W4", "W5", "W6", "W7", "W9")
PEER = "torch"


def products_rate(exe: str, threads: int) -> float:
    """The team's GFLOP/s on packed, cache-warm tiles: the fastest of 5 runs."""
    out = subprocess.run([exe, str(threads), "5"], capture_output=True, text=True, check=True).stdout
    return float(out.split()[0])


def measure(names: list[str], threads: int, rounds: int, size: str, exe: str) -> tuple[float, list[dict]]:
    # The floor first: starting and ending its processes keeps the kernel busy for a while, which
    # would land on the implementations' calls.
    rate = max(products_rate(exe, threads) for _ in range(rounds))
    time.sleep(0.5)
    rows = []
    for name in names:
        w = sized(name, size)
        runners = {impl: make_runner(impl, w, threads) for impl in ("fusedrnn-cpp", PEER)}
        rows.append({"workload": name, "gflop": w.gflop, "products": w.gflop / rate * 1e3,
                     **median_ms(runners, rounds)})
    return rate, rows


def table(rows: list[dict]) -> str:
    lines = ["| workload | GFLOP | products at the floor's rate ms | fusedrnn-cpp ms | beside the products ms | "
             "target | peer ms | target needs ms | leaves beside the products ms |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        for workload, _, against, at_least in TARGETS:
            if workload != r["workload"] or against != PEER:
                continue
            needs = r[against] / at_least
            lines.append(f"| {workload} | {r['gflop']:.3g} | {r['products']:.3g} | {r['fusedrnn-cpp']:.3g} | "
                         f"{r['fusedrnn-cpp'] - r['products']:.3g} | ≥ {at_least:g}x {against} | {r[against]:.3g} | "
                         f"{needs:.3g} | {needs - r['products']:.3g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, FLOAT32_TRAINING, "W3")
    args = parser.parse_args(argv)
    names = workload_names(parser, args, FLOAT32_TRAINING)
    with tempfile.TemporaryDirectory(prefix="training_floor_") as tmp:
        try:
            exe = compile_for_this_machine("products_floor", tmp)
            rate, rows = measure(names, args.threads, args.rounds, args.size, exe)
        except (RuntimeError, NotApplicable) as error:  # NotInstalled too: torch missing here
            print(f"training_floor: {error}", file=sys.stderr)
            return 1
    print(rounds_line(args, f"products at {rate:.0f} GFLOP/s (bench/products_floor.c, fastest round), "
                            "implementations: median of rounds"))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
