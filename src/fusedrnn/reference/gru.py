"""GRU cell for one time step, forward and backward, in both forms: the reference math.

Shapes: B batch, H hidden units, G = 3 gate blocks in PyTorch order r, z, n.
  xw = x W_ihᵀ + b_ih (all steps at once, layer.py);  hw = h W_hhᵀ + b_hh
  r = σ(xw_r + hw_r)   z = σ(xw_z + hw_z)   h' = (1 - z) * n + z * h
  linear before reset (PyTorch, ONNX lbr=1, Keras reset_after=True):
      a_n = xw_n + r * hw_n                          saved: hw_n = W_hn h + b_hn
  reset before (ONNX lbr=0, Keras reset_after=False), same weights:
      a_n = xw_n + (r * h) W_hnᵀ + b_hn              needs a second product per step
  n = tanh(a_n)
clip_gate clamps da_r, da_z, da_n, each where it is formed; the clamped da_n is the one
that flows on into r (so da_r is formed from it), into hw_n / W_hn and into xw_n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import clamp, sigmoid


@dataclass(frozen=True)
class GruCell:
    linear_before_reset: bool

    def saved_widths(self, H: int) -> dict[str, int]:
        """What forward saves per step for backward, name -> width of its [B, width] array."""
        if self.linear_before_reset:
            return {"gates": 3 * H, "hw_n": H}  # activations r, z, n and W_hn h + b_hn
        return {"gates": 3 * H}

    def forward(self, xw, h, c, w_hh, b_hh):
        """xw: [B, 3H]  h: [B, H]  c: None  ->  (h' [B, H], None, saved)"""
        H = h.shape[1]
        xw_r, xw_z, xw_n = np.split(xw, 3, axis=1)
        w_hrz, w_hn = w_hh[: 2 * H], w_hh[2 * H :]
        b_hrz, b_hn = b_hh[: 2 * H], b_hh[2 * H :]
        hw_r, hw_z = np.split(h @ w_hrz.T + b_hrz, 2, axis=1)
        r = sigmoid(xw_r + hw_r)
        z = sigmoid(xw_z + hw_z)
        if self.linear_before_reset:
            hw_n = h @ w_hn.T + b_hn
            n = np.tanh(xw_n + r * hw_n)
        else:
            n = np.tanh(xw_n + (r * h) @ w_hn.T + b_hn)
        h_new = (1 - z) * n + z * h
        saved = {"gates": np.concatenate([r, z, n], axis=1)}
        if self.linear_before_reset:
            saved["hw_n"] = hw_n
        return h_new, None, saved

    def backward(self, saved, h_prev, c_prev, dh, dc, w_hh, clip_gate):
        """dh: [B, H] gradient w.r.t. h'  ->  (dxw, dhw, dh_prev, None).

        dxw: [B, 3H] gradient w.r.t. xw (so also b_ih);
        dhw: [B, 3H] gradient w.r.t. the outputs of the three W_hh blocks plus b_hh, i.e. w.r.t.
             hw_r, hw_z and hw_n (linear before reset) or (r*h) W_hnᵀ + b_hn (reset before).
        """
        r, z, n = np.split(saved["gates"], 3, axis=1)
        w_hr, w_hz, w_hn = np.split(w_hh, 3, axis=0)
        da_n = clamp(dh * (1 - z) * (1 - n * n), clip_gate)
        da_z = clamp(dh * (h_prev - n) * z * (1 - z), clip_gate)
        if self.linear_before_reset:
            dr = da_n * saved["hw_n"]
            dhw_n = da_n * r
        else:
            d_rh = da_n @ w_hn  # gradient w.r.t. r * h
            dr = d_rh * h_prev
            dhw_n = da_n
        da_r = clamp(dr * r * (1 - r), clip_gate)
        dxw = np.concatenate([da_r, da_z, da_n], axis=1)
        dhw = np.concatenate([da_r, da_z, dhw_n], axis=1)
        dh_prev = dh * z + da_r @ w_hr + da_z @ w_hz
        if self.linear_before_reset:
            dh_prev = dh_prev + dhw_n @ w_hn
        else:
            dh_prev = dh_prev + d_rh * r
        return dxw, dhw, dh_prev, None

    def hh_operands(self, saved, h_prev):
        """What each gate block of W_hh multiplies: [..., B, H] per block (works on stacked steps)."""
        if self.linear_before_reset:
            return (h_prev,) * 3
        H = h_prev.shape[-1]
        r = saved["gates"][..., :H]
        return (h_prev, h_prev, r * h_prev)


GRU = GruCell(linear_before_reset=True)
GRU_RESET_BEFORE = GruCell(linear_before_reset=False)
