"""The Backend protocol: what every backend (numpy reference, numba, cpp) computes.

The unit is one layer in one direction. ``network.py`` composes layers, directions,
dropout and the global ``max_norm`` scaling once, for every backend.

Backends compute and never validate: ``validate.py`` has already produced
C-contiguous arrays of one dtype (float32 or float64) and consistent shapes.

Semantics (DESIGN.md), with x: [T, B, I], h0/c0: [B, H], lengths: [B] int64,
0 <= lengths[b] <= T:
- forward direction (reverse=False) visits t = 0 .. T-1; reverse visits t = T-1 .. 0.
- at a step t >= lengths[b] row b is frozen: y[t, b] = 0 and its state is unchanged,
  so the reverse direction effectively starts at t = lengths[b] - 1 from h0, and
  h_n[b] is the state after the last valid step (h0 when lengths[b] == 0).
- train=True returns a LayerTape whose ``saved`` the same backend's backward reads.
- backward gets dy: [T, B, H] (rows at frozen steps are ignored) and dh_n, dc_n: [B, H]
  (never None; zeros when the caller gave none; dc_n None unless LSTM).
- clip_gate: 0 disables; otherwise the gradient w.r.t. the gate pre-activations
  at each step is clamped to [-clip_gate, clip_gate] before it is used for
  anything (dh_{t-1}, dx, dW, db). For GRU the pre-activations are
  a_r, a_z (x and h parts summed) and a_n = W_in x + b_in + r*(W_hn h + b_hn)
  (reset-before: W_in x + b_in + W_hn (r*h) + b_hn); the clamped da_n is what
  flows into both its x part and its h part.
- clip_value: 0 disables; otherwise every parameter gradient (dw_ih, dw_hh, db_ih,
  db_hh) is clamped to [-clip_value, clip_value] (clip_grad_value_); dx, dh0, dc0 never are.
- sqnorm: sum of squares of the returned parameter gradients (after the value clamp),
  biases included only when weights.bias.
- need_dx=False: dx is returned as None (the input needs no gradient); a backend may then
  skip its product.

Optional, for both directions of a bidirectional layer (lists of two, forward direction
first), computed however is fastest (the cpp backend runs them at once); ``network.py`` uses
them where a backend has them:
- ``forward_directions(cell, x, h0s, c0s, weights, lengths, *, train)`` returns
  ``[LayerResult, LayerResult]``, the same as ``layer_forward`` with reverse=False, then True;
- ``backward_directions(cell, tapes, dys, dh_ns, dc_ns, *, clip_gate, clip_value, need_dx=True)``
  returns ``[LayerGrads, LayerGrads]``, the same as ``layer_backward`` on each direction.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..cells import CellSpec
from ..types import LayerGrads, LayerResult, LayerTape, LayerWeights


class Backend(Protocol):
    name: str

    def layer_forward(
        self,
        cell: CellSpec,
        x: np.ndarray,
        h0: np.ndarray,
        c0: np.ndarray | None,
        weights: LayerWeights,
        lengths: np.ndarray,
        *,
        reverse: bool,
        train: bool,
    ) -> LayerResult: ...

    def layer_backward(
        self,
        cell: CellSpec,
        tape: LayerTape,
        dy: np.ndarray,
        dh_n: np.ndarray,
        dc_n: np.ndarray | None,
        *,
        clip_gate: float,
        clip_value: float,
        need_dx: bool = True,
    ) -> LayerGrads: ...
