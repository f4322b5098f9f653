"""Vanilla RNN (tanh / relu) gate math for one time step, forward and backward, as Numba kernels.

Mirrors fusedrnn/reference/rnn.py; the time loop and the products live in layer.py.
Shapes: B batch, H hidden units, G = 1.  a = xw + h W_hhᵀ + b_hh;  h' = tanh(a) or relu(a).
"""

from __future__ import annotations

from .common import clamp_rows, kernel
from .mathfn import tanh


@kernel
def rnn_forward_step(relu, t, s, lengths, xw, hw, b_hh, h, y, saved_h):
    """Step t: h <- act(xw[t] + hw + b_hh) for rows with t < lengths[b]; frozen rows keep h, y[t] = 0.

    xw: [T, B, H] input projection (b_ih in)   hw: [B, H] h W_hhᵀ   h: [B, H] state, updated in place
    saved_h: [T or 1, B, H] slot s receives h' (what backward differentiates from).
    """
    B, H = h.shape
    zero = h.dtype.type(0)
    for b in range(B):
        if t >= lengths[b]:
            y[t, b, :] = zero
            continue
        for j in range(H):
            a = xw[t, b, j] + hw[b, j] + b_hh[j]
            if relu:
                v = zero if a <= zero else a  # NaN stays NaN
            else:
                v = tanh(a)
            h[b, j] = v
            y[t, b, j] = v
            saved_h[s, b, j] = v


@kernel
def rnn_backward_step(relu, t, lengths, clip_gate, dy, saved_h, dh_rec, dh_dir, da):
    """Step t of BPTT: da[t] = clamp(dh * act'(a)) with dh = dy[t] + dh_rec + dh_dir.

    dh_rec: [B, H] da[t+1] W_hh of the step after this one   dh_dir: [B, H] the rest of dh
    (frozen rows accumulate dh_rec into it, so their gradient passes through unchanged).
    da: [T, B, H] gradient w.r.t. the pre-activation; zero at frozen rows.
    """
    B, H = dh_rec.shape
    zero = dh_rec.dtype.type(0)
    one = dh_rec.dtype.type(1)
    for b in range(B):
        if t >= lengths[b]:
            for j in range(H):
                dh_dir[b, j] += dh_rec[b, j]
                da[t, b, j] = zero
            continue
        for j in range(H):
            dh = dy[t, b, j] + dh_rec[b, j] + dh_dir[b, j]
            v = saved_h[t, b, j]
            if relu:
                da[t, b, j] = dh if v > zero else zero
            else:
                da[t, b, j] = dh * (one - v * v)
            dh_dir[b, j] = zero
    if clip_gate > 0:
        clamp_rows(da[t], clip_gate)
