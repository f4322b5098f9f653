"""A stack of layers in one or two directions, for any backend: composition, dropout and global clipping.

The backends compute one layer in one direction (backends/base.py); everything that is the
same for every backend lives here, once: splitting states per layer and direction,
concatenating the directions, dropout between layers, and the max_norm scaling that needs
the squared norms of all layers.

Arrays here are time-major: x [T, B, I], y [T, B, D*H], states [L*D, B, H].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import backends
from .cells import CellSpec
from .types import Clip, LayerGrads, LayerResult, LayerTape, LayerWeights
from .weights import layer_param_names

# torch.nn.utils.clip_grad_norm_ adds this to the norm before dividing.
_CLIP_NORM_EPS = 1e-6


@dataclass(frozen=True)
class Config:
    """The shape of a network: what a model is, independent of its parameter values."""

    cell: CellSpec
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    bias: bool = True
    dropout: float = 0.0

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1


@dataclass(frozen=True)
class NetworkTape:
    """What backward needs: per [layer][direction] the backend's LayerTape, and the dropout masks."""

    config: Config
    backend: str
    layers: tuple[tuple[LayerTape, ...], ...]
    dropout_masks: tuple[np.ndarray | None, ...]   # applied to layer l's output, l < L-1
    x_shape: tuple[int, int, int]                   # [T, B, I]
    dtype: np.dtype


@dataclass(frozen=True)
class NetworkGrads:
    dx: np.ndarray | None           # [T, B, I]; None when need_dx is False
    dh0: np.ndarray                 # [L*D, B, H]
    dc0: np.ndarray | None          # [L*D, B, H] for LSTM
    params: dict[str, np.ndarray]
    norm: float                     # before max_norm scaling


def layer_weights(config: Config, params: dict[str, np.ndarray], layer: int, direction: int, dtype,
                  frozen: int = 0) -> LayerWeights:
    """One layer and direction's parameters in the compute dtype (no copy when already right).
    frozen: the id of the FrozenNetwork the params are, or 0; the weights carry it unless cast."""
    w_ih, w_hh, b_ih, b_hh = layer_param_names(layer, direction)
    rows = config.cell.gates * config.hidden_size

    def cast(array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(array, dtype=dtype)

    wi, wh = cast(params[w_ih]), cast(params[w_hh])
    frozen = frozen if wi is params[w_ih] and wh is params[w_hh] else 0
    if config.bias:
        return LayerWeights(wi, wh, cast(params[b_ih]), cast(params[b_hh]), True, frozen)
    zeros = np.zeros(rows, dtype)
    return LayerWeights(wi, wh, zeros, zeros, False, frozen)


Stack = tuple[tuple[LayerWeights, ...], ...]  # [layer][direction]


def stack_weights(config: Config, params: dict[str, np.ndarray], dtype, frozen: int = 0) -> Stack:
    """layer_weights of every layer and direction."""
    return tuple(tuple(layer_weights(config, params, layer, direction, dtype, frozen)
                       for direction in range(config.num_directions)) for layer in range(config.num_layers))


def forward(
    config: Config,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray | None,
    lengths: np.ndarray,
    *,
    train: bool,
    rng: np.random.Generator | None = None,
    backend: str | None = None,
    weights: Stack | None = None,
):
    """Run the network. Returns (y [T, B, D*H], h_n [L*D, B, H], c_n or None, NetworkTape or None).

    Inputs are validated already (validate.py): contiguous, one float dtype, consistent shapes.
    Dropout (config.dropout > 0) is applied between layers only when train is True.
    weights: stack_weights(config, params, ...) made beforehand (a FrozenNetwork's, whose
    params never change), used when in x's dtype; else they are made from params now.
    """
    compute = backends.get(backend)
    cell, D = config.cell, config.num_directions
    dtype = x.dtype
    T, B, _ = x.shape
    if weights is None or weights[0][0].w_hh.dtype != dtype:
        weights = stack_weights(config, params, dtype)
    single = config.num_layers * D == 1  # then h_n and c_n are views of the layer's own: no copies
    h_n = None if single else np.empty((config.num_layers * D, B, config.hidden_size), dtype)
    c_n = None if single or not cell.has_cell_state else np.empty_like(h_n)
    tapes, masks = [], []
    layer_input = x
    for layer, layer_ws in enumerate(weights):
        results: list[LayerResult] | tuple[LayerResult]
        if D == 1:  # no per-direction lists: a one-step call's Python side is most of its time
            results = (compute.layer_forward(cell, layer_input, h0[layer], None if c0 is None else c0[layer],
                                             layer_ws[0], lengths, reverse=False, train=train),)
        else:
            k0 = layer * D
            h0s = [h0[k0], h0[k0 + 1]]
            c0s = [None, None] if c0 is None else [c0[k0], c0[k0 + 1]]
            if hasattr(compute, "forward_directions"):
                results = compute.forward_directions(cell, layer_input, h0s, c0s, list(layer_ws), lengths,
                                                     train=train)
            else:
                results = [compute.layer_forward(cell, layer_input, h0s[d], c0s[d], layer_ws[d], lengths,
                                                 reverse=d == 1, train=train) for d in range(D)]
        if single:
            result = results[0]
            h_n = result.h_n[None]
            c_n = None if result.c_n is None else result.c_n[None]
        else:
            for d, result in enumerate(results):
                h_n[layer * D + d] = result.h_n
                if c_n is not None:
                    c_n[layer * D + d] = result.c_n
        y = results[0].y if D == 1 else np.concatenate([result.y for result in results], axis=2)
        if train:
            mask = None
            if config.dropout > 0 and layer < config.num_layers - 1:
                keep = 1.0 - config.dropout
                mask = ((rng or np.random.default_rng()).random(y.shape) < keep).astype(dtype) / dtype.type(keep)
                y = y * mask
            tapes.append(tuple(result.tape for result in results))
            masks.append(mask)
        layer_input = y
    tape = None
    if train:
        tape = NetworkTape(config, compute.name, tuple(tapes), tuple(masks), (T, B, x.shape[2]), dtype)
    return layer_input, h_n, c_n, tape


def backward(
    tape: NetworkTape,
    params: dict[str, np.ndarray],
    dy: np.ndarray,
    dh_n: np.ndarray,
    dc_n: np.ndarray | None,
    clip: Clip,
    *,
    need_dx: bool = True,
) -> NetworkGrads:
    """Gradients of x, the initial states and every parameter, with clipping fused as Clip says.

    dy [T, B, D*H], dh_n / dc_n [L*D, B, H] (zeros when the caller gave none). Runs on the
    backend that made the tape (its saved activations are that backend's own). need_dx=False:
    dx is None, and the first layer's backends may skip its product.
    """
    config = tape.config
    compute = backends.get(tape.backend)
    D, H = config.num_directions, config.hidden_size
    dh0 = np.empty_like(dh_n)
    dc0 = np.empty_like(dc_n) if dc_n is not None else None
    grads: dict[str, np.ndarray] = {}
    sqnorm = 0.0
    dlayer = dy
    for layer in reversed(range(config.num_layers)):
        # Every layer but the first passes dx on; the first's is the caller's, if asked for.
        options = {"clip_gate": clip.gate_value or 0.0, "clip_value": clip.value or 0.0,
                   "need_dx": need_dx or layer > 0}
        ks = [layer * D + direction for direction in range(D)]
        dys = [dlayer] if D == 1 else [np.ascontiguousarray(dlayer[:, :, d * H : (d + 1) * H]) for d in range(D)]
        dcs = [None if dc_n is None else dc_n[k] for k in ks]
        layer_grads: list[LayerGrads]
        if D == 2 and hasattr(compute, "backward_directions"):
            layer_grads = compute.backward_directions(
                config.cell, list(tape.layers[layer]), dys, [dh_n[k] for k in ks], dcs, **options)
        else:
            layer_grads = [compute.layer_backward(config.cell, tape.layers[layer][d], dys[d], dh_n[k], dcs[d], **options)
                           for d, k in enumerate(ks)]
        dx = None
        for direction, (k, g) in enumerate(zip(ks, layer_grads)):
            if g.dx is not None:
                dx = g.dx if dx is None else dx + g.dx
            dh0[k] = g.dh0
            if dc0 is not None:
                dc0[k] = g.dc0
            sqnorm += g.sqnorm
            w_ih, w_hh, b_ih, b_hh = layer_param_names(layer, direction)
            grads[w_ih], grads[w_hh] = g.dw_ih, g.dw_hh
            if config.bias:
                grads[b_ih], grads[b_hh] = g.db_ih, g.db_hh
        if layer > 0 and tape.dropout_masks[layer - 1] is not None:  # dx is there: layer > 0
            dx = dx * tape.dropout_masks[layer - 1]
        dlayer = dx
    norm = math.sqrt(sqnorm)
    if clip.max_norm is not None:
        coef = clip.max_norm / (norm + _CLIP_NORM_EPS)
        if coef < 1.0:  # as clip_grad_norm_: scale by min(1, coef)
            for name in grads:
                grads[name] = grads[name] * grads[name].dtype.type(coef)
    ordered = {name: grads[name].astype(params[name].dtype, copy=False) for name in params}
    return NetworkGrads(dlayer, dh0, dc0, ordered, norm)
