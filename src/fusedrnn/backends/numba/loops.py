"""The time loops of the numba backend, one jitted function per cell and direction of pass.

Each runs every step of one layer and direction in compiled code: the recurrent product
(product.rows_dot, parallel over column blocks, over the rows still running) then the cell's
step kernel (serial gate math).
Shapes: T steps, B batch, H hidden units, G gate blocks; the arrays are the ones layer.py
documents. Backward visits the steps in the reverse of the forward order.
"""

from __future__ import annotations

import numpy as np

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
def _rows_dot_active(a, w, out, lengths, t, a_c, out_c, rows):
    """out = a @ wᵀ for the rows still running at step t (t < lengths[b]), 0 for those that have
    ended: those cost nothing. a_c, out_c: scratch shaped like a and out; rows: [B] int64 scratch.

    The running rows are gathered and go through rows_dot in fours, as a full batch's do (its
    single rows are slower); the zeros padding the last four are never scattered back.
    """
    B = a.shape[0]
    n = 0
    for b in range(B):
        if t < lengths[b]:
            rows[n] = b
            n += 1
    if n == B:
        rows_dot(a, w, out)
        return
    for b in range(B):
        if t >= lengths[b]:
            out[b] = out.dtype.type(0)
    if n == 0:
        return
    m = min(B, (n + 3) // 4 * 4)
    for i in range(n):
        a_c[i] = a[rows[i]]
    a_c[n:m] = a_c.dtype.type(0)
    rows_dot(a_c[:m], w, out_c[:m])
    for i in range(n):
        out[rows[i]] = out_c[i]


@kernel
def _step(i, T, reverse):
    """The time index of forward visit i."""
    return T - 1 - i if reverse else i


@kernel
def rnn_forward(relu, reverse, train, lengths, xw, w_hh, b_hh, h, y, act, h_prev, hw):
    """h_prev: [T, B, H] when train (else unused), act: [T or 1, B, H], hw: [B, H] scratch."""
    T = xw.shape[0]
    h_c, hw_c, rows = np.empty_like(h), np.empty_like(hw), np.empty(h.shape[0], np.int64)
    for i in range(T):
        t = _step(i, T, reverse)
        if train:
            h_prev[t] = h
        _rows_dot_active(h, w_hh, hw, lengths, t, h_c, hw_c, rows)
        rnn_forward_step(relu, t, t if train else 0, lengths, xw, hw, b_hh, h, y, act)


@kernel
def rnn_backward(relu, reverse, lengths, clip_gate, dy, act, w_hh_t, dh_rec, dh_dir, da):
    """w_hh_t: [H, H] W_hhᵀ (C-contiguous); da: [T, B, H] filled; dh_rec ends as da[first] W_hh."""
    T = dy.shape[0]
    da_c, rec_c, rows = np.empty_like(dh_rec), np.empty_like(dh_rec), np.empty(dh_rec.shape[0], np.int64)
    for i in range(T - 1, -1, -1):
        t = _step(i, T, reverse)
        rnn_backward_step(relu, t, lengths, clip_gate, dy, act, dh_rec, dh_dir, da)
        _rows_dot_active(da[t], w_hh_t, dh_rec, lengths, t, da_c, rec_c, rows)


@kernel
def lstm_forward(reverse, train, lengths, xw, w_hh, b_hh, h, c, y, gates, tanh_c, h_prev, c_prev, hw):
    """h_prev, c_prev: [T, B, H] when train (else unused); hw: [B, 4H] scratch."""
    T = xw.shape[0]
    h_c, hw_c, rows = np.empty_like(h), np.empty_like(hw), np.empty(h.shape[0], np.int64)
    for i in range(T):
        t = _step(i, T, reverse)
        if train:
            h_prev[t] = h
            c_prev[t] = c
        _rows_dot_active(h, w_hh, hw, lengths, t, h_c, hw_c, rows)
        lstm_forward_step(t, t if train else 0, lengths, xw, hw, b_hh, h, c, y, gates, tanh_c)


@kernel
def lstm_backward(reverse, lengths, clip_gate, dy, gates, tanh_c, c_prev, w_hh_t, dh_rec, dh_dir, dc, da):
    """w_hh_t: [H, 4H] W_hhᵀ (C-contiguous); da: [T, B, 4H] filled."""
    T = dy.shape[0]
    da_c, rec_c = np.empty((dh_rec.shape[0], da.shape[2]), da.dtype), np.empty_like(dh_rec)
    rows = np.empty(dh_rec.shape[0], np.int64)
    for i in range(T - 1, -1, -1):
        t = _step(i, T, reverse)
        lstm_backward_step(t, lengths, clip_gate, dy, gates, tanh_c, c_prev, dh_rec, dh_dir, dc, da)
        _rows_dot_active(da[t], w_hh_t, dh_rec, lengths, t, da_c, rec_c, rows)


@kernel
def gru_forward(reverse, train, lengths, xw, w_hh, b_hh, h, y, gates, hw_n, h_prev, hw):
    """Linear before reset. h_prev: [T, B, H] when train (else unused); hw: [B, 3H] scratch."""
    T = xw.shape[0]
    h_c, hw_c, rows = np.empty_like(h), np.empty_like(hw), np.empty(h.shape[0], np.int64)
    for i in range(T):
        t = _step(i, T, reverse)
        if train:
            h_prev[t] = h
        _rows_dot_active(h, w_hh, hw, lengths, t, h_c, hw_c, rows)
        gru_forward_step(t, t if train else 0, lengths, xw, hw, b_hh, h, y, gates, hw_n)


@kernel
def gru_backward(reverse, lengths, clip_gate, dy, gates, hw_n, h_prev, w_hh_t, dh_rec, dh_dir, dxw, dhw):
    """Linear before reset. w_hh_t: [H, 3H] W_hhᵀ (C-contiguous); dxw, dhw: [T, B, 3H] filled."""
    T = dy.shape[0]
    da_c, rec_c = np.empty((dh_rec.shape[0], dhw.shape[2]), dhw.dtype), np.empty_like(dh_rec)
    rows = np.empty(dh_rec.shape[0], np.int64)
    for i in range(T - 1, -1, -1):
        t = _step(i, T, reverse)
        gru_backward_step(t, lengths, clip_gate, dy, gates, hw_n, h_prev, dh_rec, dh_dir, dxw, dhw)
        _rows_dot_active(dhw[t], w_hh_t, dh_rec, lengths, t, da_c, rec_c, rows)


@kernel
def gru_rb_forward(reverse, train, lengths, xw, w_hrz, w_hn, b_hh, h, y, gates, rh, h_prev, hw_rz, hw_n):
    """Reset before. w_hrz: [2H, H], w_hn: [H, H] (rows of W_hh); hw_rz [B, 2H], hw_n [B, H] scratch."""
    T = xw.shape[0]
    h_c, rows = np.empty_like(h), np.empty(h.shape[0], np.int64)
    hw_rz_c, hw_n_c = np.empty_like(hw_rz), np.empty_like(hw_n)
    for i in range(T):
        t = _step(i, T, reverse)
        s = t if train else 0
        if train:
            h_prev[t] = h
        _rows_dot_active(h, w_hrz, hw_rz, lengths, t, h_c, hw_rz_c, rows)
        gru_rb_forward_rz(t, s, lengths, xw, hw_rz, b_hh, h, gates, rh)
        _rows_dot_active(rh[s], w_hn, hw_n, lengths, t, h_c, hw_n_c, rows)
        gru_rb_forward_n(t, s, lengths, xw, hw_n, b_hh, h, y, gates)


@kernel
def gru_rb_backward(reverse, lengths, clip_gate, dy, gates, h_prev, w_hrz_t, w_hn_t, dh_rec, dh_dir, dxw, da_n, d_rh,
                    da_rz):
    """Reset before. w_hrz_t: [H, 2H], w_hn_t: [H, H] (transposed W_hh blocks, C-contiguous);
    da_n [B, H], d_rh [B, H], da_rz [B, 2H] scratch (contiguous copies of dxw[t] blocks)."""
    T = dy.shape[0]
    H = dh_rec.shape[1]
    da_n_c, da_rz_c, rec_c = np.empty_like(da_n), np.empty_like(da_rz), np.empty_like(dh_rec)
    rows = np.empty(dh_rec.shape[0], np.int64)
    for i in range(T - 1, -1, -1):
        t = _step(i, T, reverse)
        gru_rb_backward_n(t, lengths, clip_gate, dy, gates, h_prev, dh_rec, dh_dir, dxw)
        da_n[:] = dxw[t, :, 2 * H :]
        _rows_dot_active(da_n, w_hn_t, d_rh, lengths, t, da_n_c, rec_c, rows)
        gru_rb_backward_r(t, lengths, clip_gate, d_rh, gates, h_prev, dh_dir, dxw)
        da_rz[:] = dxw[t, :, : 2 * H]
        _rows_dot_active(da_rz, w_hrz_t, dh_rec, lengths, t, da_rz_c, rec_c, rows)
