"""Parameter names, shapes and initialisation, exactly as torch.nn.RNN / LSTM / GRU name them."""

from __future__ import annotations

import math

import numpy as np

from .cells import CellSpec


def layer_param_names(layer: int, direction: int) -> tuple[str, str, str, str]:
    """(weight_ih, weight_hh, bias_ih, bias_hh) names of one layer and direction (1 = reverse)."""
    suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
    return (f"weight_ih{suffix}", f"weight_hh{suffix}", f"bias_ih{suffix}", f"bias_hh{suffix}")


def param_shapes(
    cell: CellSpec, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, bias: bool
) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter, in PyTorch's order (layer, direction, w_ih, w_hh, b_ih, b_hh)."""
    num_directions = 2 if bidirectional else 1
    rows = cell.gates * hidden_size
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else num_directions * hidden_size
        for direction in range(num_directions):
            w_ih, w_hh, b_ih, b_hh = layer_param_names(layer, direction)
            shapes[w_ih] = (rows, layer_input)
            shapes[w_hh] = (rows, hidden_size)
            if bias:
                shapes[b_ih] = (rows,)
                shapes[b_hh] = (rows,)
    return shapes


def init_params(
    shapes: dict[str, tuple[int, ...]], hidden_size: int, dtype: np.dtype, seed: int | None
) -> dict[str, np.ndarray]:
    """PyTorch's default initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / math.sqrt(hidden_size)
    return {name: rng.uniform(-bound, bound, size=shape).astype(dtype) for name, shape in shapes.items()}
