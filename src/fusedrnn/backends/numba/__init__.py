"""The numba backend: the Backend protocol (backends/base.py) on @njit kernels, for where no
compiled extension is available. Same results as the numpy reference, much faster.

Compilation: every kernel is compiled once per dtype on first use and cached on disk
(``cache=True``). The cache goes to ``$NUMBA_CACHE_DIR`` when that is set (set it before
numba is imported, e.g. ``NUMBA_CACHE_DIR=~/.cache/fusedrnn-numba``), else to a
``__pycache__`` directory next to these files (or numba's user-wide fallback when that is
not writable). A cold compile of every cell and dtype takes about 80 s (measured on a busy
2-core machine; 8-18 s per cell and dtype); ``warmup()`` does it up front, and from a warm
cache it takes about 2 s.
Threads: fusedrnn.set_num_threads(n); results are bitwise the same for any n (gemm.py),
given threadpoolctl (in the test extras) to keep NumPy's BLAS single-threaded underneath.
"""

from __future__ import annotations

try:
    import numba  # noqa: F401
except ImportError as error:  # the registry reports this message as the reason
    raise ImportError(f"the numba backend needs numba (pip install 'fusedrnn[numba]'): {error}") from error

import dataclasses
import time
from typing import Iterable

import numpy as np

from ...cells import CELLS, CellSpec
from ...types import LayerGrads, LayerResult, LayerTape, LayerWeights
from .after_fork import check_threads_survived
from .common import FASTMATH
from .layer import layer_backward, layer_forward


class NumbaBackend:
    """The Backend protocol over the jitted time loops of layer.py."""

    name = "numba"

    def layer_forward(
        self,
        cell: CellSpec,
        x: np.ndarray,
        h0: np.ndarray,
        c0: np.ndarray | None,
        weights: LayerWeights,
        lengths: np.ndarray,
        *,
        reverse: bool,
        train: bool,
    ) -> LayerResult:
        check_threads_survived()
        return layer_forward(cell, x, h0, c0, weights, lengths, reverse=reverse, train=train)

    def layer_backward(
        self,
        cell: CellSpec,
        tape: LayerTape,
        dy: np.ndarray,
        dh_n: np.ndarray,
        dc_n: np.ndarray | None,
        *,
        clip_gate: float,
        clip_value: float,
        need_dx: bool = True,
    ) -> LayerGrads:
        check_threads_survived()
        grads = layer_backward(cell, tape, dy, dh_n, dc_n, clip_gate=clip_gate, clip_value=clip_value)
        return grads if need_dx else dataclasses.replace(grads, dx=None)

    def warmup(
        self, dtypes: Iterable[type | np.dtype] = (np.float32, np.float64), cells: Iterable[str] | None = None
    ) -> dict[str, float]:
        """Compile (or load from the cache) every kernel for these dtypes and cells, ahead of use.

        Runs a tiny forward and backward of each cell (all cells when ``cells`` is None) in
        each dtype, and returns the seconds spent per "cell/dtype". Call it at start-up, e.g.
        ``fusedrnn.backends.get("numba").warmup(dtypes=[np.float32])``, so that the first real
        call does not pay for compilation.
        """
        seconds = {}
        for dtype in dtypes:
            dtype = np.dtype(dtype)
            if dtype not in (np.float32, np.float64):
                raise TypeError(f"dtypes: expected float32 or float64, got {dtype}")
            for name in CELLS if cells is None else cells:
                if name not in CELLS:
                    raise ValueError(f"cells: expected names from {list(CELLS)}, got {name!r}")
                start = time.perf_counter()
                _run_tiny(CELLS[name], dtype)
                seconds[f"{name}/{dtype.name}"] = time.perf_counter() - start
        return seconds


def _run_tiny(cell: CellSpec, dtype: np.dtype) -> None:
    """One small forward + backward of ``cell``: compiles every kernel it calls, in every mode."""
    T, B, I, H = 2, 2, 3, 2
    G = cell.gates
    ones = lambda *shape: np.full(shape, 0.1, dtype)  # noqa: E731
    weights = LayerWeights(ones(G * H, I), ones(G * H, H), ones(G * H), ones(G * H))
    c0 = ones(B, H) if cell.has_cell_state else None
    lengths = np.array([T, 1], dtype=np.int64)
    x, h0 = ones(T, B, I), ones(B, H)
    BACKEND.layer_forward(cell, x, h0, c0, weights, lengths, reverse=False, train=False)
    result = BACKEND.layer_forward(cell, x, h0, c0, weights, lengths, reverse=True, train=True)
    BACKEND.layer_backward(
        cell, result.tape, ones(T, B, H), ones(B, H), c0, clip_gate=0.05, clip_value=0.05
    )


BACKEND = NumbaBackend()

__all__ = ["BACKEND", "FASTMATH", "NumbaBackend"]
