"""Vanilla RNN cell (tanh or relu) for one time step, forward and backward: the reference math.

Shapes: B batch, H hidden units, G = 1.
  a = xw + h W_hhᵀ + b_hh     (xw = x W_ihᵀ + b_ih, computed for all steps by layer.py)
  h' = tanh(a)  or  relu(a)   (relu'(0) = 0, as torch)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import clamp


@dataclass(frozen=True)
class RnnCell:
    activation: str  # "tanh" or "relu"

    def saved_widths(self, H: int) -> dict[str, int]:
        """What forward saves per step for backward, name -> width of its [B, width] array."""
        return {"h": H}  # the step's output h'; both derivatives are written from it

    def forward(self, xw, h, c, w_hh, b_hh):
        """xw: [B, H]  h: [B, H]  c: None  ->  (h' [B, H], None, saved)"""
        a = xw + h @ w_hh.T + b_hh
        h_new = np.tanh(a) if self.activation == "tanh" else np.maximum(a, 0)
        return h_new, None, {"h": h_new}

    def backward(self, saved, h_prev, c_prev, dh, dc, w_hh, clip_gate):
        """dh: [B, H] gradient w.r.t. h'  ->  (dxw, dhw, dh_prev, None).

        dxw, dhw: [B, H] gradients w.r.t. the input part and the recurrent part of a
        (the same here: a is their sum), after the clip_gate clamp.
        """
        h = saved["h"]
        if self.activation == "tanh":
            da = dh * (1 - h * h)
        else:
            da = np.where(h <= 0, 0, dh)  # as torch: zero where a <= 0, and a NaN still passes
        da = clamp(da, clip_gate)
        return da, da, da @ w_hh, None

    def hh_operands(self, saved, h_prev):
        """What each gate block of W_hh multiplies: [..., B, H] per block (works on stacked steps)."""
        return (h_prev,)


RNN_TANH = RnnCell("tanh")
RNN_RELU = RnnCell("relu")
