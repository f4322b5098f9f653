"""Value types shared by the API, the network composer and every backend."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Clip:
    """Gradient clipping applied inside the backward pass.

    max_norm:   global L2 norm over every parameter gradient, as
                ``torch.nn.utils.clip_grad_norm_`` (norm_type=2): all parameter
                gradients are scaled by min(1, max_norm / (norm + 1e-6)).
    value:      element-wise clamp of every parameter gradient to [-value, value],
                as ``torch.nn.utils.clip_grad_value_``. Applied before max_norm.
    gate_value: clamp of the gradient w.r.t. the gate pre-activations to
                [-gate_value, gate_value] at every time step, inside the
                recurrence (Graves 2013): it changes what flows back in time and
                so also the gradients of x, the initial states and the weights.
    None disables a mode. Gradients of x and of the initial states are never
    clipped by max_norm or value (they are not parameters).
    """

    max_norm: float | None = None
    value: float | None = None
    gate_value: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_norm", "value", "gate_value"):
            limit = getattr(self, name)
            if limit is None:
                continue
            if isinstance(limit, bool) or not isinstance(limit, (int, float, np.floating, np.integer)):
                raise TypeError(f"clip.{name}: expected a positive number or None, got {limit!r}")
            if not (math.isfinite(limit) and limit > 0):
                raise ValueError(f"clip.{name}: expected a positive finite number or None, got {limit!r}")


@dataclass(frozen=True)
class LayerWeights:
    """The four parameters of one layer and direction, in the compute dtype, C-contiguous.

    w_ih: [G*H, I]   w_hh: [G*H, H]   b_ih, b_hh: [G*H]
    bias: False when the model has no biases; b_ih and b_hh are then zeros and
          backends leave their gradients out of the squared norm.
    frozen: 0, or the id of the FrozenNetwork whose read-only arrays w_ih and w_hh are (nothing
          changes them while it lives): the cpp backend uses the packings it cached for that id
          without comparing bytes.
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray
    bias: bool = True
    frozen: int = 0


@dataclass(frozen=True)
class LayerTape:
    """What a backend's training forward of one layer and direction keeps for its backward.

    x: [T, B, I]   h0, c0: [B, H] (c0 None unless LSTM)   lengths: [B] int64
    saved: backend-owned (opaque to everyone else)
    """

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    weights: LayerWeights
    lengths: np.ndarray
    reverse: bool
    saved: Any


@dataclass(slots=True)  # not frozen: its __init__ took 0.5 us of a one-step call, this one 0.2
class LayerResult:
    """Forward of one layer and direction.  y: [T, B, H]   h_n, c_n: [B, H]   tape: None at inference."""

    y: np.ndarray
    h_n: np.ndarray
    c_n: np.ndarray | None
    tape: LayerTape | None


@dataclass(frozen=True)
class LayerGrads:
    """Backward of one layer and direction.

    dx: [T, B, I], or None when not asked for (need_dx=False)
    dh0, dc0: [B, H]  dw_ih: [G*H, I]  dw_hh: [G*H, H]  db_ih, db_hh: [G*H]
    sqnorm: sum of squares of the parameter gradients (biases only if weights.bias),
            taken after the ``value`` clamp; the network adds them up for ``max_norm``.
    """

    dx: np.ndarray | None
    dh0: np.ndarray
    dc0: np.ndarray | None
    dw_ih: np.ndarray
    dw_hh: np.ndarray
    db_ih: np.ndarray
    db_hh: np.ndarray
    sqnorm: float


@dataclass(frozen=True)
class Grads:
    """Gradients returned by ``Model.backward``.

    x:      same shape and layout as the forward input (None after backward(..., input_grad=False))
    state:  gradient of the initial state: h0 [L*D, B, H], or (h0, c0) for LSTM
    params: parameter name -> gradient, PyTorch names and shapes (after clipping)
    norm:   global L2 norm of the parameter gradients before ``max_norm`` scaling
            (after the ``value`` clamp), as ``clip_grad_norm_`` returns it
    """

    x: np.ndarray | None
    state: Any
    params: dict[str, np.ndarray]
    norm: float
