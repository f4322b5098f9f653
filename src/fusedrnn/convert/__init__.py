"""Weight converters between fusedrnn's PyTorch layout and the ONNX and Keras layouts.

This file holds what both converters share (cell lookup, reading one layer and direction,
gate-block permutations); ``onnx.py`` and ``keras.py`` each know one foreign layout.
Shapes: I input features, H hidden units, G gates (1 RNN, 3 GRU, 4 LSTM), D directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .. import validate
from ..cells import CELLS, CellSpec
from ..weights import layer_param_names


def _resolve_cell(cell) -> CellSpec:
    """A CellSpec from a CellSpec or one of its names ("lstm", "gru", "gru_reset_before", "rnn_tanh", ...)."""
    if isinstance(cell, CellSpec):
        return cell
    if isinstance(cell, str) and cell in CELLS:
        return CELLS[cell]
    raise ValueError(f"cell: expected a fusedrnn.cells.CellSpec or one of {sorted(CELLS)}, got {cell!r}")


def _gate_order(cell: CellSpec, foreign: tuple[str, ...]) -> np.ndarray:
    """Indices of PyTorch's gate blocks in the order a foreign layout stacks them.

    ``foreign`` names the foreign blocks with PyTorch's gate names, e.g. ONNX LSTM "iofc" is
    ("i", "o", "f", "g"). Taking PyTorch block order[k] as foreign block k converts to the
    foreign layout; np.argsort(order) converts back.
    """
    return np.array([cell.gate_names.index(name) for name in foreign])


def _permute_gates(a: np.ndarray, order: np.ndarray, axis: int) -> np.ndarray:
    """A copy of ``a`` with its gate blocks (G equal blocks along ``axis``) reordered by ``order``."""
    G = len(order)
    moved = np.moveaxis(a, axis, 0)
    blocks = moved.reshape(G, moved.shape[0] // G, *moved.shape[1:])[order]
    return np.ascontiguousarray(np.moveaxis(blocks.reshape(moved.shape), 0, axis))


class _LayerParams(NamedTuple):
    """One layer and direction in PyTorch layout.  w_ih [G*H, I], w_hh [G*H, H], b_ih, b_hh [G*H] or None."""

    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray | None
    b_hh: np.ndarray | None

    @property
    def hidden_size(self) -> int:
        return self.w_hh.shape[1]


def _float_array(value, name: str) -> np.ndarray:
    array = validate.as_array(value, name)
    validate.float_dtype(array.dtype, name)
    return array


def _read_layer(params, cell: CellSpec, layer: int, direction: int) -> _LayerParams:
    """The parameters of one layer and direction (1 = reverse) of a PyTorch-named dict, shapes checked."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict of PyTorch name -> array, got {type(params).__name__}")
    names = layer_param_names(layer, direction)
    for name in names[:2]:
        if name not in params:
            raise ValueError(f"params: expected a {name!r} entry (layer {layer}), got keys {sorted(params)}")
    w_ih = _float_array(params[names[0]], f"params[{names[0]!r}]")
    w_hh = _float_array(params[names[1]], f"params[{names[1]!r}]")
    if w_hh.ndim != 2 or w_hh.shape[0] != cell.gates * w_hh.shape[1]:
        raise ValueError(f"params[{names[1]!r}]: expected shape (G*H, H) with G={cell.gates} for {cell.name}, "
                         f"got {w_hh.shape}")
    H = w_hh.shape[1]
    if w_ih.ndim != 2 or w_ih.shape[0] != cell.gates * H:
        raise ValueError(f"params[{names[0]!r}]: expected shape ({cell.gates * H}, I), got {w_ih.shape}")
    has_bias = [name in params for name in names[2:]]
    if any(has_bias) and not all(has_bias):
        present, absent = (names[2], names[3]) if has_bias[0] else (names[3], names[2])
        raise ValueError(f"params: expected {absent!r} next to {present!r} (both biases or neither), got only one")
    biases = []
    for name in names[2:] if all(has_bias) else ():
        bias = _float_array(params[name], f"params[{name!r}]")
        if bias.shape != (cell.gates * H,):
            raise ValueError(f"params[{name!r}]: expected shape ({cell.gates * H},), got {bias.shape}")
        biases.append(bias)
    b_ih, b_hh = biases if biases else (None, None)
    return _LayerParams(w_ih, w_hh, b_ih, b_hh)


def _check_int(value, name: str, lowest: int, highest: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {value!r}")
    if value < lowest or (highest is not None and value > highest):
        bound = f"in [{lowest}, {highest}]" if highest is not None else f">= {lowest}"
        raise ValueError(f"{name}: expected an int {bound}, got {value}")
    return int(value)


# Public names, imported last: the submodules use the helpers above.
from .keras import from_keras, from_keras_weights, keras_layer_spec, to_keras, to_keras_weights  # noqa: E402
from .onnx import from_onnx, from_onnx_model, to_onnx, to_onnx_model  # noqa: E402

__all__ = [
    "from_keras",
    "from_keras_weights",
    "from_onnx",
    "from_onnx_model",
    "keras_layer_spec",
    "to_keras",
    "to_keras_weights",
    "to_onnx",
    "to_onnx_model",
]
