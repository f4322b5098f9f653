"""The `cpp` backend: the Backend protocol over the compiled kernels of fusedrnn._core.

Adapts argument lists and the opaque tape; never validates (validate.py did) — the
extension re-checks only what could make C++ read out of bounds.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from .. import threads as _threads
from ..cells import CellSpec
from ..types import LayerGrads, LayerResult, LayerTape, LayerWeights


@contextmanager
def _environment(values: dict[str, str]):
    """os.environ with these values while a library loads (it reads them then), as it was afterwards:
    child processes and other libraries never see them."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


# Loads libscipy_openblas.so (RTLD_GLOBAL) so the extension's NEEDED entry resolves in any
# install layout (editable builds, user site); must come before importing _core. Our BLAS calls
# always run on one thread (gemm.cpp), yet OpenBLAS starts a thread per further CPU as it loads,
# and each spins for its first 0.1 s or so, beside our team: a process's first 200 W1 calls (batch-1
# LSTM, 0.37 ms each later on) took 152-161 ms, 10-13 of them over 1 ms. Asked for one thread as it
# loads, it starts none: 106-121 ms, 3-5 over 1 ms (NumPy's own OpenBLAS threads still spin then).
with _environment({"OPENBLAS_NUM_THREADS": "1"}):
    import scipy_openblas32  # noqa: F401

# libgomp reads its spin count once, when it loads (with _core, normally). Its default
# (300000 pauses, 8.7 ms here) lets idle team threads spin long after a call, taking a core
# from a busy machine's other work and from our own main thread; 10000 (0.3 ms) still
# covers the gap between back-to-back calls (bench/RESULTS.md). A user's own setting wins.
_SPIN_KEYS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
with _environment({} if any(k in os.environ for k in _SPIN_KEYS) else {"GOMP_SPINCOUNT": "10000"}):
    from .. import _core

from . import cpp_packings  # noqa: E402

cpp_packings.watch_for(_core)

_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}  # by dtype: str(dtype) takes 2.7 us
_lock = threading.Lock()
_applied_threads: list[int] = [0]  # thread count last given to the extension


def set_num_threads(n: int) -> None:
    """Threads every later call uses: its OpenMP team and the BLAS products."""
    _threads.set_num_threads(n)
    _apply(n)


def get_num_threads() -> int:
    """Threads a call made now uses."""
    return _threads.get_num_threads()


def build_info() -> dict:
    """Compiler, flags, OpenMP version, SIMD path in use, CPU SIMD level, threads."""
    info = dict(_core.build_info())
    info["max_threads"] = get_num_threads()
    return info


def _apply(n: int) -> int:
    # Only when the count changes: the extension's default is process-wide.
    if _applied_threads[0] != n:
        with _lock:
            if _applied_threads[0] != n:
                _core.set_num_threads(n)
                _applied_threads[0] = n
    return n


_kernels: dict[tuple, object] = {}  # by (cell name, direction, dtype): 0.17 us, against 0.38 by name


def _kernel(cell: CellSpec, direction: str, dtype) -> object:
    key = (cell.name, direction, dtype)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = getattr(_core, f"{cell.name}_{direction}_{_SUFFIX[np.dtype(dtype)]}")
    return kernel


_helper: list[ThreadPoolExecutor] = []  # one worker thread, made on first use


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's other threads: the helper is gone (a job handed to it
    would wait forever) and the lock may have been held by one of them. Fresh ones, made on use."""
    global _lock
    _lock = threading.Lock()
    _helper.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _helper_thread() -> ThreadPoolExecutor:
    with _lock:
        if not _helper:
            _helper.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="fusedrnn-direction"))
    return _helper[0]


def _both_at_once(run, n: int) -> list:
    """[run(0, threads), run(1, threads)] for the two directions: direction 1 on the helper thread, at
    the same time as direction 0 here, splitting n threads between them (the kernels release the GIL)."""
    half = n // 2
    second = _helper_thread().submit(run, 1, n - half)
    try:
        first = run(0, half)
    finally:
        done = second.result()  # never left running, even when the first direction raised
    return [first, done]


class CppBackend:
    """Fused C++ kernels: one OpenMP region per layer call, GIL released throughout."""

    name = "cpp"

    def release_memory(self) -> int:
        """Drop the packed-weight cache and the pooled buffers; the bytes freed."""
        return _core.release_memory()

    def layer_forward(self, cell, x, h0, c0, weights: LayerWeights, lengths, *, reverse, train) -> LayerResult:
        return self._forward(cell, x, h0, c0, weights, lengths, reverse, train, _apply(get_num_threads()))

    def forward_directions(self, cell, x, h0s, c0s, weights, lengths, *, train) -> list[LayerResult]:
        """Both directions of a bidirectional layer: as layer_forward on each (forward direction
        first), at once on half the threads each for batches below 16, whose input projection is one
        product before the time loop (bench/RESULTS.md: LSTM T=100 H=256 at 2 threads, B=1-8
        1.13x-1.24x; at B=16, with the input tiles in the loop, 0.91x, so one after the other)."""
        def run(d: int, threads: int) -> LayerResult:
            return self._forward(cell, x, h0s[d], c0s[d], weights[d], lengths, d == 1, train, threads)

        n = _apply(get_num_threads())
        if n < 2 or x.shape[1] >= 16:
            return [run(0, n), run(1, n)]
        return _both_at_once(run, n)

    def _forward(self, cell, x, h0, c0, weights: LayerWeights, lengths, reverse, train, n: int) -> LayerResult:
        y, h_n, c_n, saved = _kernel(cell, "forward", x.dtype)(
            x, h0, c0, weights.w_ih, weights.w_hh, weights.b_ih, weights.b_hh, lengths, reverse, train, n,
            weights.frozen,
        )
        tape = None
        if train:
            tape = LayerTape(x=x, h0=h0, c0=c0, weights=weights, lengths=lengths, reverse=reverse, saved=saved)
        return LayerResult(y=y, h_n=h_n, c_n=c_n, tape=tape)

    def layer_backward(self, cell, tape: LayerTape, dy, dh_n, dc_n, *, clip_gate, clip_value,
                       need_dx=True) -> LayerGrads:
        return self._backward(cell, tape, dy, dh_n, dc_n, clip_gate, clip_value, need_dx, _apply(get_num_threads()))

    def backward_directions(self, cell, tapes, dys, dh_ns, dc_ns, *, clip_gate, clip_value,
                            need_dx=True) -> list[LayerGrads]:
        """Both directions of a bidirectional layer: as layer_backward on each, but at once, each on
        half the threads. A direction's team synchronises at every step; two teams of one thread
        need no synchronisation, and the kernels release the GIL (bench/RESULTS.md: the backward of
        LSTM T=50 B=32 H=256 1.08-1.13x at 2 threads). The results are the same bits either way."""
        def run(d: int, threads: int) -> LayerGrads:
            return self._backward(cell, tapes[d], dys[d], dh_ns[d], dc_ns[d], clip_gate, clip_value, need_dx, threads)

        n = _apply(get_num_threads())
        if n < 2:
            return [run(0, n), run(1, n)]
        return _both_at_once(run, n)

    def _backward(self, cell, tape: LayerTape, dy, dh_n, dc_n, clip_gate, clip_value, need_dx, n: int) -> LayerGrads:
        gates, hprev, extra = tape.saved
        w = tape.weights
        dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, sqnorm = _kernel(cell, "backward", tape.x.dtype)(
            tape.x, w.w_ih, w.w_hh, tape.lengths, tape.reverse, gates, hprev, extra, dy, dh_n, dc_n,
            float(clip_gate), float(clip_value), bool(w.bias), n, bool(need_dx),
        )
        return LayerGrads(dx=dx, dh0=dh0, dc0=dc0, dw_ih=dw_ih, dw_hh=dw_hh, db_ih=db_ih, db_hh=db_hh, sqnorm=sqnorm)


BACKEND = CppBackend()

__all__ = ["BACKEND", "CppBackend", "build_info", "get_num_threads", "set_num_threads"]
