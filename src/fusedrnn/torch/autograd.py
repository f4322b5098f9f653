"""The torch.autograd.Function whose forward and backward are fusedrnn.network's, run on NumPy views of tensors.

Shapes: x [T, B, I] time-major, h0 / c0 [L*D, B, H], y [T, B, D*H], lengths [B] int64;
parameters in the order of ``names`` (PyTorch's names and shapes). Inputs arrive checked
and contiguous from modules.py; NumPy sees the tensors' memory without a copy and never
writes to it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .. import network
from ..types import Clip

# Positions of the tensor arguments of RecurrentFunction.apply (for ctx.needs_input_grad).
_X, _H0, _C0, _FIRST_PARAM = 3, 4, 5, 8


class ParameterViews:
    """A network's parameters as NumPy arrays by name (their memory, never written) and
    network.stack_weights of them: what network.forward and network.backward read."""

    __slots__ = ("arrays", "stack")

    def __init__(self, config: network.Config, names, params) -> None:
        self.arrays = {name: _view(p) for name, p in zip(names, params)}
        self.stack = network.stack_weights(config, self.arrays, self.arrays[names[0]].dtype)


def _view(tensor: torch.Tensor) -> np.ndarray:
    """The tensor's memory as a C-contiguous array: a view when the tensor is contiguous, else a copy."""
    array = tensor.detach().numpy()
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor sharing the array's memory (copied only where torch.from_numpy cannot share it)."""
    if not array.flags.writeable or min(array.strides, default=0) < 0:
        array = array.copy()
    return torch.from_numpy(array)


def rows_of_pack(batch_sizes: np.ndarray) -> np.ndarray:
    """[T, B] bool: where a pack's rows sit in its padded (sorted) layout, in the pack's order
    (step by step, rows 0..batch_sizes[t]-1), which is NumPy's order of a boolean index."""
    return np.arange(batch_sizes[0])[None, :] < batch_sizes[:, None]


def _padded(data: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A pack's data [N, F] in the padded layout [T, B, F] (rows: rows_of_pack), zeros past each sequence's end."""
    out = np.zeros((*rows.shape, data.shape[1]), data.dtype)
    out[rows] = data
    return out


def _inputs(config: network.Config, x, h0, c0, rows=None):
    """NumPy views of the forward's inputs (x padded from a pack's data when rows is given); zeros for an
    omitted initial state."""
    xa = _view(x) if rows is None else _padded(_view(x), rows)
    shape = (config.num_layers * config.num_directions, xa.shape[1], config.hidden_size)
    h0a = np.zeros(shape, xa.dtype) if h0 is None else _view(h0)
    c0a = None
    if config.cell.has_cell_state:
        c0a = np.zeros(shape, xa.dtype) if c0 is None else _view(c0)
    return xa, h0a, c0a


def _rng(seed: int | None) -> np.random.Generator | None:
    return None if seed is None else np.random.default_rng(seed)


class RecurrentFunction(torch.autograd.Function):
    """y, h_n[, c_n] = network.forward(train=True); backward = network.backward with no clipping.

    apply(config, views, seed, x, h0, c0, lengths, rows, *params):
      config:  network.Config (its dropout applies: pass dropout=0 outside training)
      views:   ParameterViews of params (their names in the order of params)
      seed:    seeds the dropout masks (None when no dropout is drawn)
      x:       [T, B, I] contiguous, or a pack's rows [N, I];  h0, c0: [L*D, B, H] or None (zeros; c0 None
               unless LSTM)
      lengths: np.ndarray [B] int64, 1 <= lengths[b] <= T
      rows:    None, or a pack's rows_of_pack [T, B]: x and y are then the pack's rows
    Returns (y [T, B, D*H] or [N, D*H], h_n) or (y, h_n, c_n) for LSTM.
    Gradients are returned only where ctx.needs_input_grad asks for them.
    """

    @staticmethod
    def forward(ctx, config, views, seed, x, h0, c0, lengths, rows, *params):
        xa, h0a, c0a = _inputs(config, x, h0, c0, rows)
        y, h_n, c_n, tape = network.forward(config, views.arrays, xa, h0a, c0a, lengths, train=True, rng=_rng(seed),
                                            weights=views.stack)
        if rows is not None:
            y = y[rows]
        outputs = tuple(_tensor(a) for a in (y, h_n, c_n) if a is not None)
        ctx.tape, ctx.arrays, ctx.rows = tape, views.arrays, rows
        ctx.given = (h0 is not None, c0 is not None)
        # The tape reads these tensors' memory: saving them lets autograd's version counters
        # refuse a backward after any of them was modified in place.
        ctx.save_for_backward(x, h0, c0, *params, *outputs)
        return outputs

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_n, dc_n=None):
        _ = ctx.saved_tensors  # raises if an input or output was modified in place since forward
        tape = ctx.tape
        dtype = tape.dtype
        need = ctx.needs_input_grad
        dy = np.ascontiguousarray(_view(dy), dtype=dtype)
        result = network.backward(
            tape,
            ctx.arrays,
            dy if ctx.rows is None else _padded(dy, ctx.rows),
            np.ascontiguousarray(_view(dh_n), dtype=dtype),
            None if dc_n is None else np.ascontiguousarray(_view(dc_n), dtype=dtype),
            Clip(),
            need_dx=need[_X],  # as torch's own RNNs, no dx product for an input without requires_grad
        )
        dx = None
        if need[_X]:
            dx = _tensor(result.dx if ctx.rows is None else result.dx[ctx.rows])
        dh0 = _tensor(result.dh0) if need[_H0] and ctx.given[0] else None
        dc0 = _tensor(result.dc0) if need[_C0] and ctx.given[1] else None
        dparams = [
            _tensor(grad) if need[_FIRST_PARAM + k] else None for k, grad in enumerate(result.params.values())
        ]
        return (None, None, None, dx, dh0, dc0, None, None, *dparams)


def run(config: network.Config, views: ParameterViews, seed, x, h0, c0, lengths, params, rows=None):
    """RecurrentFunction when autograd will need it, else the forward alone (nothing kept for backward).
    views: ParameterViews of params; rows: a pack's rows_of_pack when x holds the pack's rows."""
    tensors = [t for t in (x, h0, c0, *params) if t is not None]
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return RecurrentFunction.apply(config, views, seed, x, h0, c0, lengths, rows, *params)
    xa, h0a, c0a = _inputs(config, x, h0, c0, rows)
    # train=True only to draw dropout masks (training mode under no_grad); the tape is dropped.
    train = seed is not None
    y, h_n, c_n, _ = network.forward(config, views.arrays, xa, h0a, c0a, lengths, train=train, rng=_rng(seed),
                                     weights=views.stack)
    if rows is not None:
        y = y[rows]
    return tuple(_tensor(a) for a in (y, h_n, c_n) if a is not None)


class EmptyBatchFunction(torch.autograd.Function):
    """torch.nn's result for a batch of no sequences: every output empty, and zeros as the gradient of
    every input that asks for one (so each parameter's .grad becomes zeros, as with torch.nn).

    apply(shapes, *tensors): the outputs' shapes, then the inputs (all of one dtype)."""

    @staticmethod
    def forward(ctx, shapes, *tensors):
        ctx.shapes = [t.shape for t in tensors]
        ctx.dtype = tensors[0].dtype
        return tuple(tensors[0].new_zeros(shape) for shape in shapes)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        need = ctx.needs_input_grad[1:]
        return (None, *(torch.zeros(shape, dtype=ctx.dtype) if n else None for shape, n in zip(ctx.shapes, need)))


def empty_batch(config: network.Config, x, h0, c0, params):
    """The outputs for x [T, 0, I]: y [T, 0, D*H] and h_n (and c_n) [L*D, 0, H], as run returns them."""
    T, H, D = x.shape[0], config.hidden_size, config.num_directions
    state = (config.num_layers * D, 0, H)
    shapes = [(T, 0, D * H), state] + ([state] if config.cell.has_cell_state else [])
    tensors = [t for t in (x, h0, c0, *params) if t is not None]
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return EmptyBatchFunction.apply(shapes, *tensors)
    return tuple(x.new_zeros(shape) for shape in shapes)
