"""LSTM gate math for one time step, forward and backward, as Numba kernels.

Mirrors fusedrnn/reference/lstm.py; the time loop and the products live in layer.py.
Shapes: B batch, H hidden units, G = 4 gate blocks in PyTorch order i, f, g, o (a[:, k*H + j]).
  a = xw + h W_hhᵀ + b_hh   i, f, o = σ(.)  g = tanh(.)   c' = f*c + i*g   h' = o*tanh(c')
"""

from __future__ import annotations

from .common import clamp_rows, kernel
from .mathfn import sigmoid, tanh


@kernel
def lstm_forward_step(t, s, lengths, xw, hw, b_hh, h, c, y, gates, tanh_c):
    """Step t for rows with t < lengths[b]; frozen rows keep h, c and get y[t] = 0.

    xw: [T, B, 4H] input projection (b_ih in)   hw: [B, 4H] h W_hhᵀ
    h, c: [B, H] state, updated in place   y: [T, B, H]
    gates: [T or 1, B, 4H] slot s receives i, f, g, o;  tanh_c: [T or 1, B, H] slot s receives tanh(c').
    """
    B, H = h.shape
    zero = h.dtype.type(0)
    # Short loops over one row, one array written per loop where possible: with many arrays
    # in one loop LLVM's alias checks give up on vectorising (measured 2.7x slower).
    for b in range(B):
        if t >= lengths[b]:
            y[t, b, :] = zero
            continue
        a = gates[s, b]
        x_row, h_row = xw[t, b], hw[b]
        for k in range(4 * H):
            a[k] = x_row[k] + h_row[k] + b_hh[k]
        for k in range(2 * H):
            a[k] = sigmoid(a[k])
        # The g and o blocks as views, each loop from 0: LLVM left `range(2 * H, 3 * H)` scalar
        # (numba 0.68): the step took 25 us at B=16 H=128, 5 with the views.
        a_g, a_o = a[2 * H : 3 * H], a[3 * H :]
        for j in range(H):
            a_g[j] = tanh(a_g[j])
        for j in range(H):
            a_o[j] = sigmoid(a_o[j])
        c_row, tc_row = c[b], tanh_c[s, b]
        for j in range(H):
            c_row[j] = a[H + j] * c_row[j] + a[j] * a[2 * H + j]
        for j in range(H):
            tc_row[j] = tanh(c_row[j])
        hb = h[b]
        for j in range(H):
            hb[j] = a[3 * H + j] * tc_row[j]
        y[t, b, :] = hb


@kernel
def lstm_backward_step(t, lengths, clip_gate, dy, gates, tanh_c, c_prev, dh_rec, dh_dir, dc, da):
    """Step t of BPTT: da[t] (clamped) from dh = dy[t] + dh_rec + dh_dir and dc; dc <- dc' * f.

    dh_rec: [B, H] da[t+1] W_hh   dh_dir: [B, H] the rest of dh (frozen rows pass dh through it)
    dc: [B, H] gradient w.r.t. c', updated in place to the gradient w.r.t. c (frozen rows: unchanged)
    c_prev: [T, B, H]   da: [T, B, 4H] gradient w.r.t. a, zero at frozen rows. The clamp does not
    touch the c' -> c path, which goes through no gate pre-activation.
    """
    B, H = dh_rec.shape
    zero = dh_rec.dtype.type(0)
    one = dh_rec.dtype.type(1)
    for b in range(B):
        dh = dh_dir[b]  # becomes the whole dh of this step, then 0 (LSTM has no direct h path)
        rec = dh_rec[b]
        if t >= lengths[b]:
            for j in range(H):
                dh[j] += rec[j]
            da[t, b, :] = zero
            continue
        dy_row = dy[t, b]
        for j in range(H):
            dh[j] += dy_row[j] + rec[j]
        g, tc, cp, dcb, d = gates[t, b], tanh_c[t, b], c_prev[t, b], dc[b], da[t, b]
        for j in range(H):
            dc_total = dcb[j] + dh[j] * g[3 * H + j] * (one - tc[j] * tc[j])
            i, f, gg = g[j], g[H + j], g[2 * H + j]
            d[j] = dc_total * gg * i * (one - i)
            d[H + j] = dc_total * cp[j] * f * (one - f)
            d[2 * H + j] = dc_total * i * (one - gg * gg)
            dcb[j] = dc_total * f
        for j in range(H):
            o = g[3 * H + j]
            d[3 * H + j] = dh[j] * tc[j] * o * (one - o)
        dh[:] = zero
    if clip_gate > 0:
        clamp_rows(da[t], clip_gate)
