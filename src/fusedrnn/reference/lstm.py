"""LSTM cell for one time step, forward and backward: the reference math.

Shapes: B batch, H hidden units, G = 4 gate blocks in PyTorch order i, f, g, o
(a[:, k*H:(k+1)*H] is gate k).
  a = xw + h W_hhᵀ + b_hh     (xw = x W_ihᵀ + b_ih, computed for all steps by layer.py)
  i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)   c' = f*c + i*g   h' = o*tanh(c')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import clamp, sigmoid


@dataclass(frozen=True)
class LstmCell:
    def saved_widths(self, H: int) -> dict[str, int]:
        """What forward saves per step for backward, name -> width of its [B, width] array."""
        return {"gates": 4 * H, "c": H}  # activations i, f, g, o and the new cell state c'

    def forward(self, xw, h, c, w_hh, b_hh):
        """xw: [B, 4H]  h, c: [B, H]  ->  (h' [B, H], c' [B, H], saved)"""
        a = xw + h @ w_hh.T + b_hh
        a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        return h_new, c_new, {"gates": np.concatenate([i, f, g, o], axis=1), "c": c_new}

    def backward(self, saved, h_prev, c_prev, dh, dc, w_hh, clip_gate):
        """dh, dc: [B, H] gradients w.r.t. h', c'  ->  (dxw, dhw, dh_prev, dc_prev).

        dxw, dhw: [B, 4H] gradients w.r.t. the input part and the recurrent part of a
        (the same here: a is their sum), after the clip_gate clamp. The clamp does not
        touch the c' -> c path, which goes through no gate pre-activation.
        """
        i, f, g, o = np.split(saved["gates"], 4, axis=1)
        tanh_c = np.tanh(saved["c"])
        dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
        da_i = dc_total * g * i * (1 - i)
        da_f = dc_total * c_prev * f * (1 - f)
        da_g = dc_total * i * (1 - g * g)
        da_o = dh * tanh_c * o * (1 - o)
        da = clamp(np.concatenate([da_i, da_f, da_g, da_o], axis=1), clip_gate)
        return da, da, da @ w_hh, dc_total * f

    def hh_operands(self, saved, h_prev):
        """What each gate block of W_hh multiplies: [..., B, H] per block (works on stacked steps)."""
        return (h_prev,) * 4


LSTM = LstmCell()
