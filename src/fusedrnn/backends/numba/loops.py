"""The time loops of the numba backend, one jitted function per cell and direction of pass.

Each runs every step of one layer and direction in compiled code: the recurrent product
(product.rows_dot, parallel over column blocks) then the cell's step kernel (serial gate math).
active[t]: how many rows step t runs, the first ones (layer.py orders the batch by length), so
that the product skips the rows that have ended.
Shapes: T steps, B batch, H hidden units, G gate blocks; the arrays are the ones layer.py
documents. Backward visits the steps in the reverse of the forward order.
"""

from __future__ import annotations

from .common import kernel
from .gru import (
    gru_backward_step,
    gru_forward_step,
    gru_rb_backward_n,
    gru_rb_backward_r,
    gru_rb_forward_n,
    gru_rb_forward_rz,
)
from .lstm import lstm_backward_step, lstm_forward_step
from .product import rows_dot
from .rnn import rnn_backward_step, rnn_forward_step


@kernel
def _rows_dot_active(a, w, out, n):
    """out[:n] = a[:n] @ wᵀ and out[n:] = 0: the rows past n are frozen at this step (the layer sorts
    the batch by length, so a step's active rows come first), and they have no product."""
    if n > 0:
        rows_dot(a[:n], w, out[:n])
    out[n:] = out.dtype.type(0)


@kernel
def _step(i, T, reverse):
    """The time index of forward visit i."""
    return T - 1 - i if reverse else i


@kernel
def rnn_forward(relu, reverse, train, lengths, active, xw, w_hh, b_hh, h, y, act, h_prev, hw):
    """h_prev: [T, B, H] when train (else unused), act: [T or 1, B, H], hw: [B, H] scratch."""
    T = xw.shape[0]
    for i in range(T):
        t = _step(i, T, reverse)
        if train:
            h_prev[t] = h
        _rows_dot_active(h, w_hh, hw, active[t])
        rnn_forward_step(relu, t, t if train else 0, lengths, xw, hw, b_hh, h, y, act)


@kernel
def rnn_backward(relu, reverse, lengths, active, clip_gate, dy, act, w_hh_t, dh_rec, dh_dir, da):
    """w_hh_t: [H, H] W_hhᵀ (C-contiguous); da: [T, B, H] filled; dh_rec ends as da[first] W_hh."""
    T = dy.shape[0]
    for i in range(T - 1, -1, -1):
        t = _step(i, T, reverse)
        rnn_backward_step(relu, t, lengths, clip_gate, dy, act, dh_rec, dh_dir, da)
        _rows_dot_active(da[t], w_hh_t, dh_rec, active[t])


@kernel
def lstm_forward(reverse, train, lengths, active, xw, w_hh, b_hh, h, c, y, gates, tanh_c, h_prev, c_prev, hw):
    """h_prev, c_prev: [T, B, H] when train (else unused); hw: [B, 4H] scratch."""
    T = xw.shape[0]
    for i in range(T):
        t = _step(i, T, reverse)
        if train:
            h_prev[t] = h
            c_prev[t] = c
        _rows_dot_active(h, w_hh, hw, active[t])
        lstm_forward_step(t, t if train else 0, lengths, xw, hw, b_hh, h, c, y, gates, tanh_c)


@kernel
def lstm_backward(reverse, lengths, active, clip_gate, dy, gates, tanh_c, c_prev, w_hh_t, dh_rec, dh_dir, dc, da):
    """w_hh_t: [H, 4H] W_hhᵀ (C-contiguous); da: [T, B, 4H] filled."""
    T = dy.shape[0]
    for i in range(T - 1, -1, -1):
        t = _step(i, T, reverse)
        lstm_backward_step(t, lengths, clip_gate, dy, gates, tanh_c, c_prev, dh_rec, dh_dir, dc, da)
        _rows_dot_active(da[t], w_hh_t, dh_rec, active[t])


@kernel
def gru_forward(reverse, train, lengths, active, xw, w_hh, b_hh, h, y, gates, hw_n, h_prev, hw):
    """Linear before reset. h_prev: [T, B, H] when train (else unused); hw: [B, 3H] scratch."""
    T = xw.shape[0]
    for i in range(T):
        t = _step(i, T, reverse)
        if train:
            h_prev[t] = h
        _rows_dot_active(h, w_hh, hw, active[t])
        gru_forward_step(t, t if train else 0, lengths, xw, hw, b_hh, h, y, gates, hw_n)


@kernel
def gru_backward(reverse, lengths, active, clip_gate, dy, gates, hw_n, h_prev, w_hh_t, dh_rec, dh_dir, dxw, dhw):
    """Linear before reset. w_hh_t: [H, 3H] W_hhᵀ (C-contiguous); dxw, dhw: [T, B, 3H] filled."""
    T = dy.shape[0]
    for i in range(T - 1, -1, -1):
        t = _step(i, T, reverse)
        gru_backward_step(t, lengths, clip_gate, dy, gates, hw_n, h_prev, dh_rec, dh_dir, dxw, dhw)
        _rows_dot_active(dhw[t], w_hh_t, dh_rec, active[t])


@kernel
def gru_rb_forward(reverse, train, lengths, active, xw, w_hrz, w_hn, b_hh, h, y, gates, rh, h_prev, hw_rz, hw_n):
    """Reset before. w_hrz: [2H, H], w_hn: [H, H] (rows of W_hh); hw_rz [B, 2H], hw_n [B, H] scratch."""
    T = xw.shape[0]
    for i in range(T):
        t = _step(i, T, reverse)
        s = t if train else 0
        if train:
            h_prev[t] = h
        n = active[t]
        _rows_dot_active(h, w_hrz, hw_rz, n)
        gru_rb_forward_rz(t, s, lengths, xw, hw_rz, b_hh, h, gates, rh)
        _rows_dot_active(rh[s], w_hn, hw_n, n)
        gru_rb_forward_n(t, s, lengths, xw, hw_n, b_hh, h, y, gates)


@kernel
def gru_rb_backward(reverse, lengths, active, clip_gate, dy, gates, h_prev, w_hrz_t, w_hn_t, dh_rec, dh_dir, dxw, da_n,
                    d_rh, da_rz):
    """Reset before. w_hrz_t: [H, 2H], w_hn_t: [H, H] (transposed W_hh blocks, C-contiguous);
    da_n [B, H], d_rh [B, H], da_rz [B, 2H] scratch (contiguous copies of dxw[t] blocks)."""
    T = dy.shape[0]
    H = dh_rec.shape[1]
    for i in range(T - 1, -1, -1):
        t = _step(i, T, reverse)
        n = active[t]
        gru_rb_backward_n(t, lengths, clip_gate, dy, gates, h_prev, dh_rec, dh_dir, dxw)
        da_n[:n] = dxw[t, :n, 2 * H :]
        _rows_dot_active(da_n, w_hn_t, d_rh, n)
        gru_rb_backward_r(t, lengths, clip_gate, d_rh, gates, h_prev, dh_dir, dxw)
        da_rz[:n] = dxw[t, :n, : 2 * H]
        _rows_dot_active(da_rz, w_hrz_t, dh_rec, n)
