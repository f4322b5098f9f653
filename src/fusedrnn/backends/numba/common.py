"""Compile settings shared by every Numba kernel of this backend, and the tiny kernels they share.

One place for the fastmath flags (never nnan/ninf: NaN and Inf must propagate as values) and
for cache=True (the cache lives in NUMBA_CACHE_DIR when set, else next to these files).
"""

from __future__ import annotations

import numba
import numpy as np

# contract: FMA; afn/arcp: faster exp/tanh/division; nsz, reassoc: vectorisable reductions.
# Deliberately absent: nnan and ninf, which would let LLVM assume NaN/Inf never occur.
FASTMATH = frozenset({"contract", "afn", "arcp", "nsz", "reassoc"})

# Serial kernels: NumPy's BLAS threads the per-step products, and a second (OpenMP) pool
# spinning between them costs up to 10x on a loaded machine (see layer.py, "Threads").
# error_model="numpy": x/0 gives inf/NaN as IEEE says instead of a ZeroDivisionError check,
# whose branch would also stop LLVM from vectorising the gate loops.
kernel = numba.njit(fastmath=set(FASTMATH), error_model="numpy", cache=True, nogil=True)


@kernel
def clamp_rows(da, limit):
    """Clamp every element of da (any shape, C-contiguous) to [-limit, limit] in place; NaN stays NaN."""
    flat = da.reshape(-1)
    hi = flat.dtype.type(limit)
    lo = -hi
    for k in range(flat.size):
        v = flat[k]
        if v > hi:
            flat[k] = hi
        elif v < lo:
            flat[k] = lo


@kernel
def sum_squares(g):
    """Sum of squares of g's elements, accumulated in float64 in a fixed order."""
    flat = g.reshape(-1)
    total = 0.0
    for k in range(flat.size):
        v = np.float64(flat[k])
        total += v * v
    return total
