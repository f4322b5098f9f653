"""One layer in one direction through time, forward and BPTT: the reference (numpy) backend.

Shapes: T steps, B batch, I input features, H hidden units, G gate blocks.
Cells (rnn.py, lstm.py, gru.py) know one step, including their recurrent product; this file
knows time: the input projection of all steps in one product, the visiting order, lengths
masking, what training keeps, the BPTT loop, and the weight gradients as products over all
steps after the loop. Semantics: backends/base.py.
"""

from __future__ import annotations

import numpy as np

from ..cells import CellSpec
from ..types import LayerGrads, LayerResult, LayerTape, LayerWeights
from .activations import clamp
from .gru import GRU, GRU_RESET_BEFORE
from .lstm import LSTM
from .rnn import RNN_RELU, RNN_TANH

STEPS = {
    "rnn_tanh": RNN_TANH,
    "rnn_relu": RNN_RELU,
    "lstm": LSTM,
    "gru": GRU,
    "gru_reset_before": GRU_RESET_BEFORE,
}


def _visit_order(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _valid(T: int, lengths: np.ndarray) -> np.ndarray:
    """[T, B] bool: True where step t of row b is a real step, False where the row is frozen."""
    return np.arange(T)[:, None] < lengths[None, :]


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

    Training keeps, per step t: h_prev[t], c_prev[t] (the state the step read) and the
    cell's own saved arrays (see each cell's saved_widths), all [T, B, width].
    """
    step = STEPS[cell.name]
    T, B, I = x.shape
    H = h0.shape[1]
    # NaN/Inf propagate as values; numpy's floating-point warnings are not errors here.
    with np.errstate(over="ignore", invalid="ignore"):
        # All steps' input projections in one product, b_ih folded in.
        xw = (x.reshape(T * B, I) @ weights.w_ih.T + weights.b_ih).reshape(T, B, weights.w_ih.shape[0])
        valid = _valid(T, lengths)
        y = np.zeros((T, B, H), dtype=x.dtype)
        saved = None
        if train:
            widths = {"h_prev": H, **({"c_prev": H} if c0 is not None else {}), **step.saved_widths(H)}
            saved = {name: np.zeros((T, B, width), dtype=x.dtype) for name, width in widths.items()}
        h, c = h0, c0
        for t in _visit_order(T, reverse):
            h_new, c_new, step_saved = step.forward(xw[t], h, c, weights.w_hh, weights.b_hh)
            # Frozen rows (t >= lengths[b]) output 0 and keep their state; their saved activations
            # are 0 (whatever x holds past a row's end stays out of every gradient).
            m = valid[t][:, None]
            if train:
                saved["h_prev"][t] = h
                if c is not None:
                    saved["c_prev"][t] = c
                for name, value in step_saved.items():
                    saved[name][t] = np.where(m, value, 0)
            y[t] = np.where(m, h_new, 0)
            h = np.where(m, h_new, h)
            if c is not None:
                c = np.where(m, c_new, c)
    tape = None
    if train:
        tape = LayerTape(x=x, h0=h0, c0=c0, weights=weights, lengths=lengths, reverse=reverse, saved=saved)
    return LayerResult(y=y, h_n=h.copy(), c_n=None if c is None else c.copy(), tape=tape)


def bptt(
    cell: CellSpec,
    tape: LayerTape,
    dy: np.ndarray,
    dh_n: np.ndarray,
    dc_n: np.ndarray | None,
    clip_gate: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The backward time loop.  dy: [T, B, H]  dh_n, dc_n: [B, H]  ->  (dxw, dhw, dh0, dc0).

    dxw: [T, B, G*H] gradient w.r.t. the input projection x W_ihᵀ + b_ih at every step
    dhw: [T, B, G*H] gradient w.r.t. the outputs of the W_hh blocks plus b_hh at every step
    Both are after the clip_gate clamp and zero at frozen steps; layer_backward turns them
    into dx and the weight gradients.
    """
    step = STEPS[cell.name]
    saved = tape.saved
    T, B, _ = tape.x.shape
    w_hh = tape.weights.w_hh
    valid = _valid(T, tape.lengths)
    dxw = np.zeros((T, B, w_hh.shape[0]), dtype=tape.x.dtype)
    dhw = np.zeros_like(dxw)
    dh, dc = dh_n, dc_n
    with np.errstate(over="ignore", invalid="ignore"):
        for t in reversed(_visit_order(T, tape.reverse)):
            m = valid[t][:, None]
            # Frozen rows: dy is ignored, and dh / dc pass through unchanged.
            dh_t = np.where(m, dh + dy[t], 0)
            dc_t = None if dc is None else np.where(m, dc, 0)
            c_prev = saved["c_prev"][t] if dc is not None else None
            step_saved = {name: value[t] for name, value in saved.items()}
            dxw_t, dhw_t, dh_prev, dc_prev = step.backward(
                step_saved, saved["h_prev"][t], c_prev, dh_t, dc_t, w_hh, clip_gate
            )
            dxw[t] = np.where(m, dxw_t, 0)
            dhw[t] = np.where(m, dhw_t, 0)
            dh = np.where(m, dh_prev, dh)
            if dc is not None:
                dc = np.where(m, dc_prev, dc)
    return dxw, dhw, dh.copy(), None if dc is None else dc.copy()


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
    step = STEPS[cell.name]
    x, w = tape.x, tape.weights
    T, B, I = x.shape
    GH, H = w.w_hh.shape
    dxw, dhw, dh0, dc0 = bptt(cell, tape, dy, dh_n, dc_n, clip_gate)
    with np.errstate(over="ignore", invalid="ignore"):
        # dx and the weight gradients: one product each over all T*B rows.
        dxw_rows = dxw.reshape(T * B, GH)
        dhw_rows = dhw.reshape(T * B, GH)
        dx = (dxw_rows @ w.w_ih).reshape(T, B, I)
        # x past each sequence's end is never read (as with a packed sequence): NaN there stays out.
        x_valid = np.where(_valid(T, tape.lengths)[:, :, None], x, x.dtype.type(0))
        dw_ih = dxw_rows.T @ x_valid.reshape(T * B, I)
        db_ih = dxw_rows.sum(axis=0)
        # Each gate block of W_hh multiplies its own operand (h, or r*h for the reset-before GRU's n).
        operands = step.hh_operands(tape.saved, tape.saved["h_prev"])
        dw_hh = np.concatenate(
            [dhw_rows[:, k * H : (k + 1) * H].T @ u.reshape(T * B, H) for k, u in enumerate(operands)], axis=0
        )
        db_hh = dhw_rows.sum(axis=0)
    params = [clamp(g, clip_value) for g in (dw_ih, dw_hh, db_ih, db_hh)]
    counted = params if w.bias else params[:2]
    sqnorm = float(sum(np.sum(np.square(g, dtype=np.float64)) for g in counted))
    dw_ih, dw_hh, db_ih, db_hh = params
    return LayerGrads(
        dx=dx, dh0=dh0, dc0=dc0, dw_ih=dw_ih, dw_hh=dw_hh, db_ih=db_ih, db_hh=db_hh, sqnorm=sqnorm
    )
