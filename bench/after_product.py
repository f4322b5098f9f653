"""A fusedrnn-cpp call made right after a NumPy (or PyTorch) matrix product, against one made after a pause.

After a product, NumPy's OpenBLAS keeps its worker threads spinning for a while (about 0.1 s at
OpenBLAS's default timeout), and a call made then shares the cores with them. Each round times
one call right after a square product (`a @ a`), then one after a pause long enough for those
threads to sleep; the result is the median of the rounds' time ratios. NumPy's BLAS and PyTorch
run on as many threads as this process may use, as they do by default. To see OpenBLAS's idle
threads sleep at once instead, set OPENBLAS_THREAD_TIMEOUT (read when NumPy loads):

    python bench/after_product.py [--product numpy|torch] [--workload W2] [--threads 2] [--rounds 25]
                                  [--size full|smoke]
    OPENBLAS_THREAD_TIMEOUT=4 python bench/after_product.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from fusedrnn.threads import default_num_threads

sys.path.insert(0, str(Path(__file__).resolve().parent))  # runners, workloads: bench/'s own modules

from runners import import_torch_first, make_runner  # noqa: E402
from workloads import SIZES, WORKLOADS, sized  # noqa: E402

PRODUCT_SIZE = 400  # a @ a with a [400, 400]: about 1-2 ms, multithreaded by the library
PAUSE_S = 0.3  # longer than OpenBLAS's default spin before its threads sleep


def product_operand(product: str):
    """The square operand of the product, with its library at its default thread count.

    make_runner limits every thread pool to --threads; this puts NumPy's BLAS (or torch) back to
    OMP_NUM_THREADS, else the usable cores, as they pick by default.
    """
    if product == "torch":
        import torch

        torch.set_num_threads(default_num_threads())
        return torch.rand(PRODUCT_SIZE, PRODUCT_SIZE)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=default_num_threads(), user_api="blas")
    except ImportError:  # without threadpoolctl nothing changed NumPy's BLAS
        pass
    return np.random.default_rng(0).random((PRODUCT_SIZE, PRODUCT_SIZE))


def measure(product: str, workload_name: str, threads: int, rounds: int, size: str) -> tuple[list[float], list[float]]:
    """Seconds per call right after a product, and after a pause, one of each per round."""
    if product == "torch":
        import_torch_first()
    runner = make_runner("fusedrnn-cpp", sized(workload_name, size), threads)
    a = product_operand(product)
    after_product, after_pause = [], []
    for _ in range(rounds):
        a @ a
        start = time.perf_counter()
        runner.check(runner())
        after_product.append(time.perf_counter() - start)
        time.sleep(PAUSE_S)
        start = time.perf_counter()
        runner.check(runner())
        after_pause.append(time.perf_counter() - start)
    return after_product, after_pause


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--product", choices=["numpy", "torch"], default="numpy")
    parser.add_argument("--workload", choices=list(WORKLOADS), default="W2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--size", choices=SIZES, default="full")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.rounds < 1:
        parser.error(f"--threads and --rounds: expected positive ints, got {args.threads} and {args.rounds}")
    if args.product == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            parser.error("--product torch: torch is not installed (pip install torch==2.13.0)")

    after_product, after_pause = measure(args.product, args.workload, args.threads, args.rounds, args.size)
    ratio = statistics.median(p / q for p, q in zip(after_product, after_pause))
    timeout = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "unset")
    print(f"{args.workload} at {args.threads} thread{'s' if args.threads > 1 else ''}, {args.rounds} rounds, "
          f"size {args.size}, OPENBLAS_THREAD_TIMEOUT {timeout}: right after a {args.product} product "
          f"{statistics.median(after_product) * 1e3:.3g} ms, after a {PAUSE_S:g} s pause "
          f"{statistics.median(after_pause) * 1e3:.3g} ms, ratio {ratio:.2f} (median of rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
