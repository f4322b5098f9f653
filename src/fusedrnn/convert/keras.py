"""PyTorch-layout weights to and from Keras 3 ``LSTM`` / ``GRU`` / ``SimpleRNN`` layers (NumPy only, no Keras import).

Keras, per direction: kernel [I, G*H], recurrent_kernel [H, G*H] (PyTorch's matrices transposed).
  Gate blocks: LSTM i, f, c, o (PyTorch's i, f, g, o); GRU z, r, h (PyTorch's r, z, n).
  bias: LSTM and SimpleRNN [G*H], one bias: b_ih + b_hh.
        GRU reset_after=True [2, 3H]: row 0 the input biases, row 1 the recurrent ones (= cells.GRU).
        GRU reset_after=False [3H], input side only: hh = tanh(x K_h + b_h + (r * h) U_h), which is
        cells.GRU_RESET_BEFORE with b_h = b_in + b_hn (b_hn sits outside r there, so they merge).
Merged biases come back as b_ih = bias, b_hh = 0: only their sum is meaningful, so Keras -> fusedrnn
-> Keras is exact, and fusedrnn -> Keras -> fusedrnn keeps every sum b_ih + b_hh.
"""

from __future__ import annotations

import numpy as np

from .. import cells
from ..cells import CellSpec
from ..weights import layer_param_names
from . import _check_int, _float_array, _gate_order, _permute_gates, _read_layer, _resolve_cell

# Keras's gate blocks named with PyTorch's gate names ("c" is g, "h" is n).
_KERAS_GATES = {
    "lstm": ("i", "f", "g", "o"),
    "gru": ("z", "r", "n"),
    "gru_reset_before": ("z", "r", "n"),
    "rnn_tanh": ("h",),
    "rnn_relu": ("h",),
}


def keras_layer_spec(cell) -> tuple[str, dict]:
    """The Keras layer class name and constructor options that compute ``cell``.

    Parameters
    ----------
    cell : CellSpec or str

    Returns
    -------
    (str, dict)
        e.g. ``("GRU", {"reset_after": False, "activation": "tanh", "recurrent_activation": "sigmoid"})``;
        pass ``units=H`` (and ``use_bias=False`` for a model without biases) as well.
    """
    cell = _resolve_cell(cell)
    if cell is cells.LSTM:
        return "LSTM", {"activation": "tanh", "recurrent_activation": "sigmoid"}
    if cell in (cells.GRU, cells.GRU_RESET_BEFORE):
        return "GRU", {"activation": "tanh", "recurrent_activation": "sigmoid", "reset_after": cell is cells.GRU}
    return "SimpleRNN", {"activation": "tanh" if cell is cells.RNN_TANH else "relu"}


def _keras_order(cell: CellSpec) -> np.ndarray:
    return _gate_order(cell, _KERAS_GATES[cell.name])


def to_keras(params, cell, *, layer: int = 0, reverse: bool = False) -> dict[str, np.ndarray]:
    """One layer and direction's weights as a Keras layer's ``kernel``, ``recurrent_kernel``, ``bias``.

    Parameters
    ----------
    params : dict of str to array
        PyTorch-named parameters (a model's ``params`` or a torch state_dict), shapes
        [G*H, I], [G*H, H], [G*H].
    cell : CellSpec or str
        The cell; it decides the Keras layer (see ``keras_layer_spec``): ``cells.GRU`` is a
        ``GRU(reset_after=True)``, ``cells.GRU_RESET_BEFORE`` a ``GRU(reset_after=False)``.
    layer : int
        Which layer k to convert.
    reverse : bool
        Convert the reverse direction (the ``_reverse`` parameters), i.e. the backward layer of
        a Keras ``Bidirectional``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"kernel"`` [I, G*H], ``"recurrent_kernel"`` [H, G*H] and, when the layer has biases,
        ``"bias"``: [2, 3H] for ``cells.GRU``, else [G*H] holding b_ih + b_hh. Gate blocks in
        Keras order (LSTM i, f, c, o; GRU z, r, h), dtype of ``params``. New arrays.
    """
    cell = _resolve_cell(cell)
    layer = _check_int(layer, "layer", 0)
    p = _read_layer(params, cell, layer, int(bool(reverse)))
    order = _keras_order(cell)
    out = {
        "kernel": np.ascontiguousarray(_permute_gates(p.w_ih, order, axis=0).T),
        "recurrent_kernel": np.ascontiguousarray(_permute_gates(p.w_hh, order, axis=0).T),
    }
    if p.b_ih is not None:
        if cell is cells.GRU:
            out["bias"] = np.stack([_permute_gates(p.b_ih, order, axis=0), _permute_gates(p.b_hh, order, axis=0)])
        else:
            out["bias"] = _permute_gates(p.b_ih + p.b_hh, order, axis=0)
    return out


def from_keras(kernel, recurrent_kernel, bias=None, *, cell, layer: int = 0,
               reverse: bool = False) -> dict[str, np.ndarray]:
    """PyTorch-named parameters of one layer and direction from a Keras layer's weights.

    Parameters
    ----------
    kernel : array, [I, G*H]
    recurrent_kernel : array, [H, G*H]
    bias : array, optional
        [2, 3H] for ``cells.GRU`` (Keras ``reset_after=True``), [G*H] for the others
        (``reset_after=False`` GRU, LSTM, SimpleRNN). None (``use_bias=False``) gives no bias entries.
    cell : CellSpec or str
        The cell the Keras layer computes (see ``keras_layer_spec``).
    layer : int
        The layer k the parameters are named for.
    reverse : bool
        Name them as the reverse direction (``_reverse``).

    Returns
    -------
    dict of str to numpy.ndarray
        ``weight_ih_l{k}`` [G*H, I], ``weight_hh_l{k}`` [G*H, H] and, with a bias,
        ``bias_ih_l{k}``, ``bias_hh_l{k}`` [G*H]. A single Keras bias becomes ``bias_ih`` with
        ``bias_hh`` zeros (only their sum matters). New arrays, dtype of the inputs.
    """
    cell = _resolve_cell(cell)
    layer = _check_int(layer, "layer", 0)
    kernel = _float_array(kernel, "kernel")
    recurrent_kernel = _float_array(recurrent_kernel, "recurrent_kernel")
    if recurrent_kernel.ndim != 2 or recurrent_kernel.shape[1] != cell.gates * recurrent_kernel.shape[0]:
        raise ValueError(f"recurrent_kernel: expected shape (H, G*H) with G={cell.gates} for {cell.name}, "
                         f"got {recurrent_kernel.shape}")
    H = recurrent_kernel.shape[0]
    GH = cell.gates * H
    if kernel.ndim != 2 or kernel.shape[1] != GH:
        raise ValueError(f"kernel: expected shape (I, {GH}), got {kernel.shape}")
    back = np.argsort(_keras_order(cell))
    w_ih, w_hh, b_ih, b_hh = layer_param_names(layer, int(bool(reverse)))
    params = {
        w_ih: _permute_gates(kernel.T, back, axis=0),
        w_hh: _permute_gates(recurrent_kernel.T, back, axis=0),
    }
    if bias is not None:
        bias = _float_array(bias, "bias")
        expected = (2, GH) if cell is cells.GRU else (GH,)
        if bias.shape != expected:
            hint = {cells.GRU: " (a reset_after=False GRU is cells.GRU_RESET_BEFORE)",
                    cells.GRU_RESET_BEFORE: " (a reset_after=True GRU is cells.GRU)"}.get(cell, "")
            raise ValueError(f"bias: expected shape {expected} for {cell.name}{hint}, got {bias.shape}")
        if cell is cells.GRU:
            params[b_ih] = _permute_gates(bias[0], back, axis=0)
            params[b_hh] = _permute_gates(bias[1], back, axis=0)
        else:
            params[b_ih] = _permute_gates(bias, back, axis=0)
            params[b_hh] = np.zeros_like(params[b_ih])
    return params


def to_keras_weights(model) -> list[list[np.ndarray]]:
    """A model's weights as one list per Keras layer, in the order of Keras's ``set_weights``.

    Parameters
    ----------
    model : fusedrnn.LSTM, fusedrnn.GRU or fusedrnn.RNN

    Returns
    -------
    list of list of numpy.ndarray
        Entry k holds layer k: ``[kernel, recurrent_kernel, bias]`` (no bias without biases),
        followed by the reverse direction's three for a bidirectional model, which is what
        ``keras.layers.Bidirectional(...).set_weights`` expects. Build each Keras layer from
        ``keras_layer_spec(model.cell)`` with ``units=H`` and ``return_sequences=True``.
    """
    cell = _resolve_cell(model.cell)
    D = 2 if model.bidirectional else 1
    out = []
    for k in range(model.num_layers):
        arrays = []
        for d in range(D):
            converted = to_keras(model.params, cell, layer=k, reverse=bool(d))
            arrays += [converted[key] for key in ("kernel", "recurrent_kernel", "bias") if key in converted]
        out.append(arrays)
    return out


def from_keras_weights(model, weights):
    """Load Keras layers' weights (as ``to_keras_weights`` lists them) into a model; returns the model.

    Parameters
    ----------
    model : fusedrnn.LSTM, fusedrnn.GRU or fusedrnn.RNN
        A model with the Keras network's sizes, cell and directions; its parameters are replaced.
    weights : list of list of array
        One list per layer, each Keras layer's ``get_weights()``: kernel, recurrent_kernel and
        (unless ``use_bias=False``) bias, then the same for the backward layer of a Bidirectional.
        Keras layers without a bias load as zero biases into a model that has them.

    Returns
    -------
    The same model, for chaining.
    """
    cell = _resolve_cell(model.cell)
    D = 2 if model.bidirectional else 1
    if len(weights) != model.num_layers:
        raise ValueError(f"weights: expected {model.num_layers} layers, got {len(weights)}")
    params = {}
    for k, arrays in enumerate(weights):
        arrays = list(arrays)
        if len(arrays) not in (2 * D, 3 * D):
            raise ValueError(f"weights[{k}]: expected {2 * D} or {3 * D} arrays (kernel, recurrent_kernel[, bias] "
                             f"per direction), got {len(arrays)}")
        per_direction = len(arrays) // D
        if per_direction == 3 and not model.bias:
            raise ValueError(f"weights[{k}]: expected no bias for a model made with bias=False, got one")
        for d in range(D):
            kernel, recurrent_kernel, *bias = arrays[d * per_direction:(d + 1) * per_direction]
            converted = from_keras(kernel, recurrent_kernel, bias[0] if bias else None, cell=cell, layer=k,
                                   reverse=bool(d))
            if model.bias and not bias:
                _, w_hh, b_ih, b_hh = layer_param_names(k, d)
                zeros = np.zeros(converted[w_hh].shape[0], dtype=converted[w_hh].dtype)
                converted[b_ih], converted[b_hh] = zeros, zeros.copy()
            params.update(converted)
    model.load_state_dict(params)
    return model
