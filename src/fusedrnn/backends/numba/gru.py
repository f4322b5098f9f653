"""GRU gate math for one time step, forward and backward, both forms, as Numba kernels.

Mirrors fusedrnn/reference/gru.py; the time loop and the products live in layer.py.
Shapes: B batch, H hidden units, G = 3 gate blocks in PyTorch order r, z, n (a[:, k*H + j]).
  r = σ(xw_r + hw_r)  z = σ(xw_z + hw_z)  n = tanh(a_n)  h' = (1 - z) * n + z * h
  linear before reset: a_n = xw_n + r * (W_hn h + b_hn)       (one product per step)
  reset before:        a_n = xw_n + (r * h) W_hnᵀ + b_hn      (the n product needs r first:
                       the *_rz kernels run before it, the *_n kernels after it)
clip_gate clamps da_r, da_z, da_n where each is formed; da_r is formed from the clamped da_n.
"""

from __future__ import annotations

from .common import kernel
from .mathfn import sigmoid, tanh


@kernel
def _clamp(v, hi):
    """v clamped to [-hi, hi] (hi > 0); NaN stays NaN."""
    if v > hi:
        return hi
    if v < -hi:
        return -hi
    return v


@kernel
def gru_forward_step(t, s, lengths, xw, hw, b_hh, h, y, gates, hw_n):
    """Linear-before-reset step t for rows with t < lengths[b]; frozen rows keep h, y[t] = 0.

    xw: [T, B, 3H] (b_ih in)   hw: [B, 3H] h W_hhᵀ (no bias)   h: [B, H] updated in place
    gates: [T or 1, B, 3H] slot s receives r, z, n;  hw_n: [T or 1, B, H] slot s receives W_hn h + b_hn.
    """
    B, H = h.shape
    zero = h.dtype.type(0)
    one = h.dtype.type(1)
    # Short row loops writing one array each: LLVM vectorises them (see lstm.py).
    for b in range(B):
        if t >= lengths[b]:
            y[t, b, :] = zero
            continue
        a, x_row, h_row, hn, hb = gates[s, b], xw[t, b], hw[b], hw_n[s, b], h[b]
        for k in range(2 * H):
            a[k] = sigmoid(x_row[k] + h_row[k] + b_hh[k])
        for j in range(H):
            hn[j] = h_row[2 * H + j] + b_hh[2 * H + j]
        # n through views: written as a[2 * H + j] from a[j], LLVM left the loop scalar
        # (numba 0.68): the step took 16 us at B=16 H=128, 4 with the views.
        a_r, a_n, x_n = a[:H], a[2 * H :], x_row[2 * H :]
        for j in range(H):
            a_n[j] = tanh(x_n[j] + a_r[j] * hn[j])
        for j in range(H):
            z = a[H + j]
            hb[j] = (one - z) * a[2 * H + j] + z * hb[j]
        y[t, b, :] = hb


@kernel
def gru_backward_step(t, lengths, clip_gate, dy, gates, hw_n, h_prev, dh_rec, dh_dir, dxw, dhw):
    """Linear-before-reset BPTT step t: dh = dy[t] + dh_rec + dh_dir -> dxw[t], dhw[t]; dh_dir <- dh * z.

    dh_rec: [B, H] dhw[t+1] W_hh   dh_dir: [B, H] the rest of dh (frozen rows pass dh through it)
    dxw: [T, B, 3H] gradient w.r.t. xw = (da_r, da_z, da_n); dhw: [T, B, 3H] w.r.t. the W_hh
    outputs plus b_hh = (da_r, da_z, da_n * r). Both zero at frozen rows.
    """
    B, H = dh_rec.shape
    zero = dh_rec.dtype.type(0)
    one = dh_rec.dtype.type(1)
    clip = clip_gate > 0
    hi = dh_rec.dtype.type(clip_gate)
    for b in range(B):
        dh, rec = dh_dir[b], dh_rec[b]  # dh_dir becomes the whole dh of this step, then dh * z
        if t >= lengths[b]:
            for j in range(H):
                dh[j] += rec[j]
            dxw[t, b, :] = zero
            dhw[t, b, :] = zero
            continue
        dy_row = dy[t, b]
        for j in range(H):
            dh[j] += dy_row[j] + rec[j]
        g, hp, hn, dx, dhh = gates[t, b], h_prev[t, b], hw_n[t, b], dxw[t, b], dhw[t, b]
        for j in range(H):
            z, n = g[H + j], g[2 * H + j]
            da_n = dh[j] * (one - z) * (one - n * n)
            da_z = dh[j] * (hp[j] - n) * z * (one - z)
            if clip:
                da_n = _clamp(da_n, hi)
                da_z = _clamp(da_z, hi)
            dx[H + j] = da_z
            dx[2 * H + j] = da_n
        for j in range(H):
            r = g[j]
            da_r = dx[2 * H + j] * hn[j] * r * (one - r)
            dx[j] = _clamp(da_r, hi) if clip else da_r
        dhh[: 2 * H] = dx[: 2 * H]
        for j in range(H):
            dhh[2 * H + j] = dx[2 * H + j] * g[j]
        for j in range(H):
            dh[j] = dh[j] * g[H + j]


@kernel
def gru_rb_forward_rz(t, s, lengths, xw, hw_rz, b_hh, h, gates, rh):
    """Reset-before step t, first half: r, z into gates[s] and r * h into rh[s] (0 at frozen rows).

    hw_rz: [B, 2H] h W_h{r,z}ᵀ   gates: [T or 1, B, 3H]   rh: [T or 1, B, H], the operand of W_hn.
    """
    B, H = h.shape
    zero = h.dtype.type(0)
    for b in range(B):
        if t >= lengths[b]:
            rh[s, b, :] = zero
            continue
        a, x_row, h_row, rh_row, hb = gates[s, b], xw[t, b], hw_rz[b], rh[s, b], h[b]
        for k in range(2 * H):
            a[k] = sigmoid(x_row[k] + h_row[k] + b_hh[k])
        for j in range(H):
            rh_row[j] = a[j] * hb[j]


@kernel
def gru_rb_forward_n(t, s, lengths, xw, hw_n, b_hh, h, y, gates):
    """Reset-before step t, second half: n = tanh(xw_n + (r*h) W_hnᵀ + b_hn), then h' in place.

    hw_n: [B, H] (r*h) W_hnᵀ   h: [B, H] updated in place   gates[s] receives n.
    """
    B, H = h.shape
    zero = h.dtype.type(0)
    one = h.dtype.type(1)
    for b in range(B):
        if t >= lengths[b]:
            y[t, b, :] = zero
            continue
        a, x_row, hn, hb = gates[s, b], xw[t, b], hw_n[b], h[b]
        for j in range(H):
            a[2 * H + j] = tanh(x_row[2 * H + j] + hn[j] + b_hh[2 * H + j])
        for j in range(H):
            z = a[H + j]
            hb[j] = (one - z) * a[2 * H + j] + z * hb[j]
        y[t, b, :] = hb


@kernel
def gru_rb_backward_n(t, lengths, clip_gate, dy, gates, h_prev, dh_rec, dh_dir, dxw):
    """Reset-before BPTT step t, first half: da_n, da_z into dxw[t] (= dhw[t]); dh_dir <- dh * z.

    dh_rec: [B, H] (da_r, da_z)[t+1] W_h{r,z}   dh_dir: [B, H] the rest of dh; frozen rows pass
    dh through it and get dxw[t] = 0. da_r is filled by gru_rb_backward_r once d(r*h) is known.
    """
    B, H = dh_rec.shape
    zero = dh_rec.dtype.type(0)
    one = dh_rec.dtype.type(1)
    clip = clip_gate > 0
    hi = dh_rec.dtype.type(clip_gate)
    for b in range(B):
        dh, rec = dh_dir[b], dh_rec[b]  # dh_dir becomes the whole dh of this step, then dh * z
        if t >= lengths[b]:
            for j in range(H):
                dh[j] += rec[j]
            dxw[t, b, :] = zero
            continue
        dy_row = dy[t, b]
        for j in range(H):
            dh[j] += dy_row[j] + rec[j]
        g, hp, dx = gates[t, b], h_prev[t, b], dxw[t, b]
        for j in range(H):
            z, n = g[H + j], g[2 * H + j]
            da_n = dh[j] * (one - z) * (one - n * n)
            da_z = dh[j] * (hp[j] - n) * z * (one - z)
            if clip:
                da_n = _clamp(da_n, hi)
                da_z = _clamp(da_z, hi)
            dx[H + j] = da_z
            dx[2 * H + j] = da_n
        for j in range(H):
            dh[j] = dh[j] * g[H + j]


@kernel
def gru_rb_backward_r(t, lengths, clip_gate, d_rh, gates, h_prev, dh_dir, dxw):
    """Reset-before BPTT step t, second half: da_r from d(r*h) = da_n W_hn; dh_dir += d(r*h) * r.

    d_rh: [B, H]; frozen rows are left alone (their d_rh is 0 and dh_dir already carries dh).
    """
    B, H = d_rh.shape
    one = d_rh.dtype.type(1)
    clip = clip_gate > 0
    hi = d_rh.dtype.type(clip_gate)
    for b in range(B):
        if t >= lengths[b]:
            continue
        g, hp, drh, dx, dh = gates[t, b], h_prev[t, b], d_rh[b], dxw[t, b], dh_dir[b]
        for j in range(H):
            r = g[j]
            da_r = drh[j] * hp[j] * r * (one - r)
            dx[j] = _clamp(da_r, hi) if clip else da_r
        for j in range(H):
            dh[j] += drh[j] * g[j]
