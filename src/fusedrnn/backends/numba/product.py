"""The per-step recurrent product of the numba backend: out = a @ wᵀ, jitted, parallel over fixed column blocks.

Shapes: a [M, K] (rows: batch), w [N, K] (rows: output columns), out [M, N]. Each output element
is one dot product over k, computed by the same code whatever thread runs its block, and the
blocks depend on N only: results are bitwise the same for any thread count.
Why not BLAS per step: a Python-level BLAS call per step (plus a thread hand-off) cost more than
the product itself for small B and H; this kernel matches single-threaded OpenBLAS on these shapes.
"""

from __future__ import annotations

import numba
from numba import prange

from .common import FASTMATH, kernel

BLOCK = 64  # output columns per parallel block (w rows: 64 * K * 4 bytes stays in L2)

# Per-step products smaller than this (M*K*N multiply-adds, ~0.5 ms on one core) run on one
# thread. A parallel region per step waits for every thread each step: on a loaded 2-core
# machine, LSTM B=32 H=256 (8.4M) took 393 ms parallel vs 139 ms serial; at B=64 H=512 (67M)
# parallel was no slower even under load.
PARALLEL_MIN_MACS = 1 << 24


@kernel
def _dot_block(a, w, out, n0, n1):
    """out[:, n0:n1] = a @ w[n0:n1]ᵀ; 4 rows x 2 columns per k loop (8 reductions, vectorised over k)."""
    M, K = a.shape
    zero = out.dtype.type(0)
    m = 0
    while m + 4 <= M:
        a0, a1, a2, a3 = a[m], a[m + 1], a[m + 2], a[m + 3]
        n = n0
        while n + 2 <= n1:
            w0, w1 = w[n], w[n + 1]
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
            for k in range(K):
                x0, x1 = w0[k], w1[k]
                s00 += a0[k] * x0
                s01 += a0[k] * x1
                s10 += a1[k] * x0
                s11 += a1[k] * x1
                s20 += a2[k] * x0
                s21 += a2[k] * x1
                s30 += a3[k] * x0
                s31 += a3[k] * x1
            out[m, n], out[m, n + 1] = s00, s01
            out[m + 1, n], out[m + 1, n + 1] = s10, s11
            out[m + 2, n], out[m + 2, n + 1] = s20, s21
            out[m + 3, n], out[m + 3, n + 1] = s30, s31
            n += 2
        if n < n1:  # odd column count: one column, four rows
            w0 = w[n]
            s0 = s1 = s2 = s3 = zero
            for k in range(K):
                x0 = w0[k]
                s0 += a0[k] * x0
                s1 += a1[k] * x0
                s2 += a2[k] * x0
                s3 += a3[k] * x0
            out[m, n], out[m + 1, n], out[m + 2, n], out[m + 3, n] = s0, s1, s2, s3
        m += 4
    while m < M:  # the last M % 4 rows, one at a time
        ar = a[m]
        for n in range(n0, n1):
            w0 = w[n]
            s = zero
            for k in range(K):
                s += ar[k] * w0[k]
            out[m, n] = s
        m += 1


@numba.njit(parallel=True, fastmath=set(FASTMATH), error_model="numpy", cache=True, nogil=True)
def rows_dot(a, w, out):
    """out[:] = a @ wᵀ (a [M, K], w [N, K], out [M, N], all C-contiguous); threads take whole blocks.

    Runs on numba.get_num_threads() threads: layer.py sets it per call (see step_threads).
    """
    N = w.shape[0]
    count = (N + BLOCK - 1) // BLOCK
    for i in prange(count):
        _dot_block(a, w, out, i * BLOCK, min(N, (i + 1) * BLOCK))


def step_threads(threads: int, M: int, K: int, N: int) -> int:
    """Threads for a per-step product of this shape: ``threads`` (capped by numba), or 1 if it is small."""
    if M * K * N < PARALLEL_MIN_MACS:
        return 1
    return max(1, min(threads, numba.config.NUMBA_NUM_THREADS))
