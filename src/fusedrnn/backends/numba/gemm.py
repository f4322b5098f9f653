"""The one seam to BLAS for the numba backend: out = a @ b on NumPy's BLAS, threaded by us.

OpenBLAS rounds differently with 1 and 2 threads (measured: y, dW differ in the last bits), so
BLAS itself runs single-threaded and the product is cut into blocks of rows or of columns,
whichever dimension is larger, that depend only on the shape. Each block is one BLAS call;
threads take whole blocks. Any thread count therefore computes every element with the same
call: bitwise the same results. (Column blocks only left dx and the weight gradients, with
their 256 columns at I=H=256, in one block on one thread: half of the GRU backward.)
Shapes: a [M, K], b [K, N], out [M, N]; b may be a transposed view (BLAS reads it in place).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator

import numpy as np

try:  # optional: without it NumPy's BLAS may thread on its own and results depend on that
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl is in the test and bench extras
    ThreadpoolController = None

_MIN_BLOCK = 128  # rows or columns; narrower blocks lose more to per-call overhead than threads gain
_MAX_BLOCKS = 8
# Below this many multiply-adds a product runs its blocks on the calling thread: handing blocks to the
# pool and waiting for them took 50-60 us on 2 busy cores, more than such a product (a one-step call's
# input projection, LSTM I=H=64: 16 K) takes whole. The same blocks either way, so the same bits.
_PARALLEL_MIN_MACS = 1 << 22
_controller = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def blocks(n: int) -> list[tuple[int, int]]:
    """The fixed blocks of a dimension of length n (a function of n only)."""
    count = max(1, min(_MAX_BLOCKS, n // _MIN_BLOCK))
    edges = [n * k // count for k in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """NumPy's BLAS limited to one thread inside the block (no-op without threadpoolctl)."""
    global _controller
    if ThreadpoolController is None:
        yield
        return
    if _controller is None:
        _controller = ThreadpoolController().select(user_api="blas")
    with _controller.limit(limits=1):
        yield


def _pool_for(threads: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size != threads:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fusedrnn-numba")
        _pool_size = threads
    return _pool


def _run(a: np.ndarray, b: np.ndarray, out: np.ndarray, spans: list[tuple[int, int]], by_rows: bool) -> None:
    # NaN/Inf propagate as values, never as warnings (errstate is per thread: set it here).
    with np.errstate(over="ignore", invalid="ignore"):
        for s0, s1 in spans:
            if by_rows:
                np.matmul(a[s0:s1], b, out=out[s0:s1])
            else:
                np.matmul(a, b[:, s0:s1], out=out[:, s0:s1])


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int) -> np.ndarray:
    """out[:] = a @ b, the blocks of ``blocks(max(M, N))`` shared out over ``threads`` threads."""
    M, N = out.shape
    by_rows = M > N
    spans = blocks(M if by_rows else N)
    threads = min(threads, len(spans))
    if threads <= 1 or M * N * a.shape[1] < _PARALLEL_MIN_MACS:
        _run(a, b, out, spans, by_rows)
        return out
    groups = [spans[len(spans) * k // threads : len(spans) * (k + 1) // threads] for k in range(threads)]
    pool = _pool_for(threads)
    futures = [pool.submit(_run, a, b, out, group, by_rows) for group in groups[1:]]
    _run(a, b, out, groups[0], by_rows)  # the calling thread takes the first share
    for future in futures:
        future.result()
    return out
