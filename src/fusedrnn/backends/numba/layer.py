"""One layer in one direction through time, forward and BPTT, for the numba backend.

Shapes: T steps, B batch, I input features, H hidden units, G gate blocks.
The structure of the C++ core: the input projection of all steps in one product, one product
per step for the recurrence followed by one fused (jitted) gate pass, and after the BPTT loop
dx and the weight gradients as products over all steps' rows. Semantics: backends/base.py;
the math mirrors fusedrnn/reference/layer.py.

With lengths, the rows that have ended cost nothing: each step's product runs over the rows
still running (loops.py), and the once-per-call products over the valid (t, b) pairs' rows.

Threads, fusedrnn.get_num_threads(); results are bitwise the same for any count:
- the time loops run whole in jitted code (loops.py); the per-step product is product.rows_dot,
  parallel over fixed column blocks (one parallel region per step, so serial below
  product.PARALLEL_MIN_MACS); the gate kernels are serial (vectorised, a small part of a step).
- the once-per-call products run on NumPy's BLAS through gemm.py, which keeps BLAS
  single-threaded and shares fixed row or column blocks out over Python threads. They never run
  while numba's OpenMP team is busy: interleaving the two pools step by step is the 10x
  oversubscription trap of /work/shared/notes/build-and-dependencies.md §4.
"""

from __future__ import annotations

import numba
import numpy as np

from ...cells import CellSpec
from ...threads import get_num_threads
from ...types import LayerGrads, LayerResult, LayerTape, LayerWeights
from . import loops
from .common import clamp_rows, sum_squares
from .gemm import matmul, single_threaded_blas
from .product import step_threads


def layer_forward(
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
    """x: [T, B, I]  h0, c0: [B, H]  lengths: [B]  ->  y [T, B, H], h_n, c_n [B, H], tape if train.

    The tape's ``saved`` holds per step t: "h_prev" (and "c_prev") [T, B, H], the state step t
    read, and the cell's activations ("gates" [T, B, G*H]; "h" for RNN, "tanh_c" for LSTM,
    "hw_n" for the GRU, "rh" = r * h_prev for the reset-before GRU).
    """
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore"):
        return _forward(cell, x, h0, c0, weights, lengths, reverse, train, get_num_threads())


def valid_rows(lengths: np.ndarray, T: int) -> np.ndarray | None:
    """The rows t*B + b of the valid (t, b) pairs (t < lengths[b]); None where every pair is valid."""
    if lengths.size == 0 or T == 0 or lengths.min() >= T:
        return None
    return np.flatnonzero(np.arange(T)[:, None] < lengths[None, :])


def _take_rows(a: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """Rows `rows` of the 2-D a (all of it where None), for the once-per-call products."""
    return a if rows is None else np.take(a, rows, axis=0)


def _forward(cell, x, h0, c0, w, lengths, reverse, train, threads):
    T, B, I = x.shape
    GH, H = w.w_hh.shape
    dtype = x.dtype
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    slots = T if train else 1  # inference reuses one slot of scratch for the activations
    # The input projections of the valid (t, b) pairs in one product, b_ih folded in. The other
    # pairs' rows stay unset: their steps never read them.
    rows = valid_rows(lengths, T)
    x_rows = _take_rows(x.reshape(T * B, I), rows)
    xw_rows = matmul(x_rows, w.w_ih.T, np.empty((x_rows.shape[0], GH), dtype), threads)
    xw_rows += w.b_ih
    if rows is None:
        xw = xw_rows
    else:
        xw = np.empty((T * B, GH), dtype)
        xw[rows] = xw_rows
    xw = xw.reshape(T, B, GH)
    y = np.empty((T, B, H), dtype)
    h = h0.copy()
    c = None if c0 is None else c0.copy()
    # The loops take the tape arrays in any case; inference never writes them.
    h_prev = np.empty((T if train else 0, B, H), dtype)
    c_prev = np.empty((T if train else 0, B, H), dtype) if c is not None else None
    hw = np.empty((B, GH), dtype)
    name = cell.name
    numba.set_num_threads(step_threads(threads, B, H, GH))
    if name in ("rnn_tanh", "rnn_relu"):
        act = np.empty((slots, B, H), dtype)
        saved = {"h": act}
        loops.rnn_forward(name == "rnn_relu", reverse, train, lengths, xw, w.w_hh, w.b_hh, h, y, act, h_prev, hw)
    elif name == "lstm":
        gates = np.empty((slots, B, GH), dtype)
        tanh_c = np.empty((slots, B, H), dtype)
        saved = {"gates": gates, "tanh_c": tanh_c}
        loops.lstm_forward(
            reverse, train, lengths, xw, w.w_hh, w.b_hh, h, c, y, gates, tanh_c, h_prev, c_prev, hw
        )
    elif name == "gru":
        gates = np.empty((slots, B, GH), dtype)
        hw_n = np.empty((slots, B, H), dtype)
        saved = {"gates": gates, "hw_n": hw_n}
        loops.gru_forward(reverse, train, lengths, xw, w.w_hh, w.b_hh, h, y, gates, hw_n, h_prev, hw)
    elif name == "gru_reset_before":
        gates = np.empty((slots, B, GH), dtype)
        rh = np.empty((slots, B, H), dtype)
        saved = {"gates": gates, "rh": rh}
        w_hrz, w_hn = w.w_hh[: 2 * H], w.w_hh[2 * H :]
        loops.gru_rb_forward(
            reverse, train, lengths, xw, w_hrz, w_hn, w.b_hh, h, y, gates, rh, h_prev,
            np.empty((B, 2 * H), dtype), np.empty((B, H), dtype),
        )
    else:
        raise ValueError(f"cell: expected one of rnn_tanh, rnn_relu, lstm, gru, gru_reset_before, got {name!r}")
    tape = None
    if train:
        saved["h_prev"] = h_prev
        if c_prev is not None:
            saved["c_prev"] = c_prev
        saved.update(rows=rows, x_rows=x_rows)  # the valid pairs, and their x for dW_ih
        tape = LayerTape(x=x, h0=h0, c0=c0, weights=w, lengths=lengths, reverse=reverse, saved=saved)
    return LayerResult(y=y, h_n=h, c_n=c, tape=tape)


def layer_backward(
    cell: CellSpec,
    tape: LayerTape,
    dy: np.ndarray,
    dh_n: np.ndarray,
    dc_n: np.ndarray | None,
    *,
    clip_gate: float,
    clip_value: float,
) -> LayerGrads:
    """dy: [T, B, H]  dh_n, dc_n: [B, H]  ->  dx, dh0, dc0, parameter gradients and their sqnorm."""
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore"):
        return _backward(cell, tape, dy, dh_n, dc_n, float(clip_gate), float(clip_value), get_num_threads())


def _backward(cell, tape, dy, dh_n, dc_n, clip_gate, clip_value, threads):
    x, w, saved, lengths = tape.x, tape.weights, tape.saved, tape.lengths
    T, B, I = x.shape
    GH, H = w.w_hh.shape
    dtype = x.dtype
    dy = np.ascontiguousarray(dy, dtype=dtype)
    h_prev = saved["h_prev"]
    # dh of the step being processed = dy[t] + dh_rec + dh_dir: dh_rec is the recurrent product
    # of the step after it, dh_dir everything else (dh_n at the start, dh * z for the GRU,
    # and the whole carried gradient of frozen rows).
    dh_rec = np.zeros((B, H), dtype)
    dh_dir = np.array(dh_n, dtype=dtype, copy=True, order="C")
    dc = None
    dxw = np.empty((T, B, GH), dtype)
    dhw = dxw  # gradient w.r.t. the W_hh products (plus b_hh); its own array only for the GRU
    name = cell.name
    reverse = tape.reverse
    numba.set_num_threads(step_threads(threads, B, GH, H))
    w_hh_t = np.ascontiguousarray(w.w_hh.T)  # [H, G*H]: rows_dot reads rows of its second operand
    if name in ("rnn_tanh", "rnn_relu"):
        loops.rnn_backward(
            name == "rnn_relu", reverse, lengths, clip_gate, dy, saved["h"], w_hh_t, dh_rec, dh_dir, dxw
        )
    elif name == "lstm":
        dc = np.array(dc_n, dtype=dtype, copy=True, order="C")
        loops.lstm_backward(
            reverse, lengths, clip_gate, dy, saved["gates"], saved["tanh_c"], saved["c_prev"], w_hh_t,
            dh_rec, dh_dir, dc, dxw,
        )
    elif name == "gru":
        dhw = np.empty_like(dxw)
        loops.gru_backward(
            reverse, lengths, clip_gate, dy, saved["gates"], saved["hw_n"], h_prev, w_hh_t, dh_rec, dh_dir, dxw, dhw
        )
    elif name == "gru_reset_before":
        loops.gru_rb_backward(
            reverse, lengths, clip_gate, dy, saved["gates"], h_prev,
            np.ascontiguousarray(w_hh_t[:, : 2 * H]), np.ascontiguousarray(w_hh_t[:, 2 * H :]),
            dh_rec, dh_dir, dxw, np.empty((B, H), dtype), np.empty((B, H), dtype), np.empty((B, 2 * H), dtype),
        )
    else:
        raise ValueError(f"cell: expected one of rnn_tanh, rnn_relu, lstm, gru, gru_reset_before, got {name!r}")
    dh0 = dh_rec
    dh0 += dh_dir
    # dx and the weight gradients: one product each over the valid (t, b) pairs' rows (the
    # others' gradients are zero).
    rows = saved["rows"]
    dxw_rows = _take_rows(dxw.reshape(T * B, GH), rows)
    dhw_rows = dxw_rows if dhw is dxw else _take_rows(dhw.reshape(T * B, GH), rows)
    dx_rows = matmul(dxw_rows, w.w_ih, np.empty((dxw_rows.shape[0], I), dtype), threads)
    if rows is None:
        dx = dx_rows
    else:  # 0 at the pairs past each end
        dx = np.zeros((T * B, I), dtype)
        dx[rows] = dx_rows
    dx = dx.reshape(T, B, I)
    dw_ih = matmul(dxw_rows.T, saved["x_rows"], np.empty((GH, I), dtype), threads)
    h_rows = _take_rows(h_prev.reshape(T * B, H), rows)
    if name == "gru_reset_before":  # W_hn multiplies r * h_prev, the other blocks h_prev
        dw_hh = np.empty((GH, H), dtype)
        matmul(dhw_rows[:, : 2 * H].T, h_rows, dw_hh[: 2 * H], threads)
        matmul(dhw_rows[:, 2 * H :].T, _take_rows(saved["rh"].reshape(T * B, H), rows), dw_hh[2 * H :], threads)
    else:
        dw_hh = matmul(dhw_rows.T, h_rows, np.empty((GH, H), dtype), threads)
    db_ih = dxw_rows.sum(axis=0)
    db_hh = db_ih.copy() if dhw is dxw else dhw_rows.sum(axis=0)
    params = (dw_ih, dw_hh, db_ih, db_hh)
    if clip_value > 0:
        for g in params:
            clamp_rows(g, clip_value)
    sqnorm = sum_squares(dw_ih) + sum_squares(dw_hh)
    if w.bias:
        sqnorm += sum_squares(db_ih) + sum_squares(db_hh)
    return LayerGrads(
        dx=dx, dh0=dh0, dc0=dc, dw_ih=dw_ih, dw_hh=dw_hh, db_ih=db_ih, db_hh=db_hh, sqnorm=float(sqnorm)
    )
