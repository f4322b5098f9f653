"""The batch-1 inference targets (W1, W8) against this machine's floor.

At batch 1 every step must read all of W_hh once, and the steps follow one another. The floor is
measured here, not assumed: bench/stream_floor.c, compiled for this machine, reads each thread's
slice of W_hh once per step with one barrier per step (no multiplication, no gate math), and the
input projection is timed as one numpy.matmul at the same thread count, each in a process of its
own. Then, round by round, fusedrnn-cpp and its peers are timed (bench/interleaved.py's
timed_call). The table gives the floors' fastest rounds, the implementations' medians over
rounds, and what each target needs beside the floor. With two threads or more, a last line gives
how long a cache line took between two cores (bench/core_latency.c) before and after the rounds:
on a virtual machine that moves with where the host puts the CPUs, and batch-1 steps with it.

    python bench/batch1_floor.py [--workloads W1,W8] [--threads 2] [--rounds 9] [--size full|smoke]

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

import numpy as np

from fusedrnn.cells import CELLS

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/'s own modules

from floors import add_arguments, median_ms, rounds_line, workload_names  # noqa: E402
from native import compile_for_this_machine, with_core_latency  # noqa: E402
from report import TARGETS  # noqa: E402
from runners import NotApplicable, make_runner, set_threads  # noqa: E402
from workloads import sized  # noqa: E402

BATCH1 = ("W1", "W8")
PEERS = ("onnxruntime", "torch")


def weight_read_ms(exe: str, rows: int, H: int, steps: int, threads: int) -> float:
    """Fastest of 10 runs of `steps` steps, each thread reading its slice of a [rows][H] W_hh once."""
    out = subprocess.run([exe, str(rows), str(H), str(steps), str(threads), "10"], capture_output=True, text=True,
                         check=True).stdout
    return float(out.split()[0])


def projection_ms(T: int, I: int, GH: int, threads: int) -> float:
    """The input projection's time (fastest_projection_ms), in a process of its own: BLAS threads
    spin after a product and would slow whatever this process times next."""
    out = subprocess.run([sys.executable, __file__, "--projection", f"{T},{I},{GH},{threads}"], capture_output=True,
                         text=True, check=True).stdout
    return float(out)


def fastest_projection_ms(T: int, I: int, GH: int, calls: int = 50) -> float:
    """Fastest of `calls` numpy products x [T, I] · W_ihᵀ [I, G*H] (float32), at the threads set."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, I), dtype=np.float32)
    w = rng.standard_normal((GH, I), dtype=np.float32)
    for _ in range(4 * calls):  # warm-up: the first tens of products here run at two thirds of the rate
        np.matmul(x, w.T)
    best = float("inf")
    for _ in range(calls):
        start = time.perf_counter()
        np.matmul(x, w.T)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def measure(names: list[str], threads: int, rounds: int, size: str, exe: str) -> list[dict]:
    rows = []
    for name in names:
        w = sized(name, size)
        runners = {impl: make_runner(impl, w, threads) for impl in ("fusedrnn-cpp", *PEERS)}
        GH = CELLS[w.cell].gates * w.H
        # The floors first: starting and ending their processes keeps the kernel busy for a while,
        # which would land on the implementations' calls (some took 8-16 ms instead of 1).
        read = min(weight_read_ms(exe, GH, w.H, w.T, threads) for _ in range(rounds))
        projection = min(projection_ms(w.T, w.I, GH, threads) for _ in range(rounds))
        time.sleep(0.5)
        # A floor is the least the machine took; an implementation's time its median.
        rows.append({"workload": name, "read": read, "projection": projection, **median_ms(runners, rounds)})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| workload | read W_hh once per step ms | input projection ms | floor without overlap ms | "
             "fusedrnn-cpp ms | target | peer ms | target needs ms |",
             "|---|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        for workload, _, against, at_least in TARGETS:
            if workload != r["workload"]:
                continue
            lines.append(f"| {workload} | {r['read']:.3g} | {r['projection']:.3g} | {r['read'] + r['projection']:.3g} | "
                         f"{r['fusedrnn-cpp']:.3g} | ≥ {at_least:g}x {against} | {r[against]:.3g} | "
                         f"{r[against] / at_least:.3g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, BATCH1, ",".join(BATCH1))
    parser.add_argument("--projection", help=argparse.SUPPRESS)  # T,I,GH,threads: the helper process
    args = parser.parse_args(argv)
    if args.projection:
        T, I, GH, threads = (int(v) for v in args.projection.split(","))
        set_threads(threads)
        print(fastest_projection_ms(T, I, GH))
        return 0
    names = workload_names(parser, args, BATCH1)
    with tempfile.TemporaryDirectory(prefix="batch1_floor_") as tmp:
        try:
            exe = compile_for_this_machine("stream_floor", tmp)
            rows, latency = with_core_latency(args.threads, tmp,
                                              lambda: measure(names, args.threads, args.rounds, args.size, exe))
        except (RuntimeError, NotApplicable) as error:  # NotInstalled too: a peer missing here
            print(f"batch1_floor: {error}", file=sys.stderr)
            return 1
    print(rounds_line(args, "floors: fastest round, implementations: median of rounds"))
    print(table(rows))
    if latency:
        print("\n" + latency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
