"""Keras converters: exact round trips, gate blocks and biases where Keras puts them, and Keras 3
layers (torch backend) holding converted weights giving the numpy reference's outputs and states."""

from __future__ import annotations

import os
import sys

if "keras" not in sys.modules:  # Keras reads KERAS_BACKEND once, at its first import
    os.environ["KERAS_BACKEND"] = "torch"  # the torch of the test extras

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fusedrnn as fr  # noqa: E402
from fusedrnn import cells  # noqa: E402
from fusedrnn.convert import (  # noqa: E402
    from_keras, from_keras_weights, keras_layer_spec, to_keras, to_keras_weights,
)
from fusedrnn.weights import param_shapes  # noqa: E402
from tolerance import assert_close  # noqa: E402

# Keras 3.15's Variable.numpy() calls np.array(self) without numpy 2's copy keyword.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

ALL_CELLS = [cells.LSTM, cells.GRU, cells.GRU_RESET_BEFORE, cells.RNN_TANH, cells.RNN_RELU]
CELL_IDS = [cell.name for cell in ALL_CELLS]


def test_keras_runs_on_torch():
    assert keras.backend.backend() == "torch"


def make_model(cell, **options):
    if cell is cells.LSTM:
        return fr.LSTM(**options)
    if cell in (cells.GRU, cells.GRU_RESET_BEFORE):
        return fr.GRU(**options, linear_before_reset=cell is cells.GRU)
    return fr.RNN(**options, nonlinearity="tanh" if cell is cells.RNN_TANH else "relu")


# --- per-direction converters -------------------------------------------------------------------
@pytest.mark.parametrize("cell", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keras_to_fusedrnn_to_keras_is_exact(rng, cell, bias, dtype):
    G, H, I = cell.gates, 5, 3
    weights = {
        "kernel": rng.standard_normal((I, G * H)).astype(dtype),
        "recurrent_kernel": rng.standard_normal((H, G * H)).astype(dtype),
    }
    if bias:
        weights["bias"] = rng.standard_normal((2, G * H) if cell is cells.GRU else (G * H,)).astype(dtype)
    params = from_keras(**weights, cell=cell, layer=1, reverse=True)
    expected_names = {"weight_ih_l1_reverse", "weight_hh_l1_reverse"}
    if bias:
        expected_names |= {"bias_ih_l1_reverse", "bias_hh_l1_reverse"}
    assert set(params) == expected_names
    again = to_keras(params, cell, layer=1, reverse=True)
    assert set(again) == set(weights)
    for name, value in weights.items():
        assert again[name].dtype == value.dtype, name
        np.testing.assert_array_equal(again[name], value, err_msg=name)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("D", [1, 2], ids=["fwd", "bidir"])
def test_fusedrnn_to_keras_to_fusedrnn_keeps_weights_and_bias_sums(rng, cell, D):
    shapes = param_shapes(cell, 3, 4, 2, D == 2, True)
    params = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
    back = {}
    for layer in range(2):
        for d in range(D):
            back.update(from_keras(**to_keras(params, cell, layer=layer, reverse=bool(d)), cell=cell, layer=layer,
                                   reverse=bool(d)))
    assert set(back) == set(params)
    for name, value in params.items():
        if name.startswith("weight") or cell is cells.GRU:      # cells.GRU keeps both biases (Keras reset_after)
            np.testing.assert_array_equal(back[name], value, err_msg=name)
    for name in (n for n in params if n.startswith("bias_ih")):
        recurrent = name.replace("bias_ih", "bias_hh")
        if cell is not cells.GRU:                                # one Keras bias: b_ih + b_hh, b_hh = 0 back
            np.testing.assert_array_equal(back[recurrent], np.zeros_like(params[recurrent]), err_msg=recurrent)
            np.testing.assert_array_equal(back[name], params[name] + params[recurrent], err_msg=name)


@pytest.mark.parametrize(
    "cell, keras_blocks",
    [
        (cells.LSTM, [0, 1, 2, 3]),        # PyTorch i, f, g, o; Keras i, f, c, o
        (cells.GRU, [1, 0, 2]),            # PyTorch r, z, n; Keras z, r, h
        (cells.GRU_RESET_BEFORE, [1, 0, 2]),
        (cells.RNN_RELU, [0]),
    ],
    ids=lambda v: v.name if isinstance(v, cells.CellSpec) else "",
)
def test_keras_gate_blocks_and_biases_follow_keras(cell, keras_blocks):
    H, I = 2, 3
    column = np.repeat(np.arange(cell.gates, dtype=np.float64), H)
    params = {
        "weight_ih_l0": np.tile(column[:, None], (1, I)),
        "weight_hh_l0": np.tile(column[:, None], (1, H)),
        "bias_ih_l0": column.copy(),
        "bias_hh_l0": column + 10.0,
    }
    out = to_keras(params, cell)
    expected = np.repeat(np.asarray(keras_blocks, dtype=np.float64), H)
    np.testing.assert_array_equal(out["kernel"], np.tile(expected[None, :], (I, 1)))
    np.testing.assert_array_equal(out["recurrent_kernel"], np.tile(expected[None, :], (H, 1)))
    if cell is cells.GRU:     # reset_after=True: [input biases, recurrent biases]
        np.testing.assert_array_equal(out["bias"], np.stack([expected, expected + 10.0]))
    else:                     # a single bias
        np.testing.assert_array_equal(out["bias"], 2 * expected + 10.0)


@pytest.mark.parametrize(
    "cell, bias_shape, message",
    [
        (cells.GRU, (12,), r"bias: expected shape \(2, 12\) for gru \(a reset_after=False GRU is "
                           r"cells.GRU_RESET_BEFORE\), got \(12,\)"),
        (cells.GRU_RESET_BEFORE, (2, 12), r"bias: expected shape \(12,\) for gru_reset_before \(a reset_after=True"),
        (cells.LSTM, (12,), r"recurrent_kernel: expected shape \(H, G\*H\) with G=4"),
    ],
    ids=["gru-single-bias", "reset-before-double-bias", "lstm-given-gru-weights"],
)
def test_bad_keras_weights_are_named(cell, bias_shape, message):
    with pytest.raises(ValueError, match=message):
        from_keras(np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(bias_shape), cell=cell)


# --- Keras layers with converted weights ---------------------------------------------------------
def keras_stack(model):
    """Keras layers computing ``model`` (batch first, full sequences), its converted weights loaded."""
    name, options = keras_layer_spec(model.cell)
    layers = []
    for weights in to_keras_weights(model):
        layer = getattr(keras.layers, name)(model.hidden_size, use_bias=model.bias, return_sequences=True,
                                            return_state=True, **options)
        if model.bidirectional:
            layer = keras.layers.Bidirectional(layer)
        layer.build((None, None, model.input_size if not layers else model.hidden_size * model.num_directions))
        layer.set_weights(weights)
        layers.append(layer)
    return layers


def run_keras(layers, x, states):
    """y [B, T, D*H] and, per layer, Keras's final states (h[, c] per direction, forward first).

    states: None, or per layer the list of initial states in that same order.
    """
    finals = []
    y = x
    for k, layer in enumerate(layers):
        out = layer(y, initial_state=None if states is None else states[k])
        y, finals_k = out[0], out[1:]
        finals.append([keras.ops.convert_to_numpy(f) for f in finals_k])
    return keras.ops.convert_to_numpy(y), finals


@pytest.mark.parametrize("cell", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["fwd", "bidir"])
def test_keras_layers_match_reference(rng, cell, bidirectional):
    model = make_model(cell, input_size=4, hidden_size=5, num_layers=2, bidirectional=bidirectional,
                       batch_first=True, seed=11)
    L, D, B, T, H = 2, model.num_directions, 3, 6, 5
    x = rng.standard_normal((B, T, 4)).astype(np.float32)
    n_states = 2 if cell.has_cell_state else 1
    states = [rng.standard_normal((L * D, B, H)).astype(np.float32) for _ in range(n_states)]
    with fr.use_backend("numpy"):
        y, final = model(x, tuple(states) if cell.has_cell_state else states[0])
    final = list(final) if cell.has_cell_state else [final]
    # Keras takes a layer's initial states as [h, c] per direction, forward first.
    keras_states = [[states[s][k * D + d] for d in range(D) for s in range(n_states)] for k in range(L)]
    y_keras, finals = run_keras(keras_stack(model), x, keras_states)
    assert_close("y", y_keras, y, np.float32)
    for k in range(L):
        for d in range(D):
            for s in range(n_states):
                assert_close(f"layer {k} direction {d} {'hc'[s]}_n", finals[k][d * n_states + s], final[s][k * D + d],
                             np.float32)


@pytest.mark.parametrize("cell", [cells.GRU_RESET_BEFORE, cells.LSTM], ids=lambda c: c.name)
def test_keras_layers_without_bias_match_reference(rng, cell):
    model = make_model(cell, input_size=3, hidden_size=4, bias=False, batch_first=True, seed=12)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    with fr.use_backend("numpy"):
        y, _ = model(x)
    y_keras, _ = run_keras(keras_stack(model), x, None)
    assert_close("y", y_keras, y, np.float32)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=CELL_IDS)
def test_weights_read_back_from_keras_give_the_same_network(rng, cell):
    model = make_model(cell, input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True,
                       seed=13)
    keras_weights = [layer.get_weights() for layer in keras_stack(model)]
    loaded = from_keras_weights(make_model(cell, input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                                           batch_first=True, seed=14), keras_weights)
    for k, weights in enumerate(to_keras_weights(loaded)):     # Keras -> fusedrnn -> Keras is exact
        for got, expected in zip(weights, keras_weights[k], strict=True):
            np.testing.assert_array_equal(got, expected)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    with fr.use_backend("numpy"):
        y_loaded, _ = loaded(x)
        y, _ = model(x)
    assert_close("y", y_loaded, y, np.float32)


def test_keras_weights_without_bias_load_as_zero_biases(rng):
    model = make_model(cells.GRU, input_size=3, hidden_size=4, seed=15)
    no_bias = make_model(cells.GRU, input_size=3, hidden_size=4, bias=False, seed=16)
    from_keras_weights(model, to_keras_weights(no_bias))
    np.testing.assert_array_equal(model.params["bias_ih_l0"], np.zeros(12, np.float32))
    np.testing.assert_array_equal(model.params["bias_hh_l0"], np.zeros(12, np.float32))
    np.testing.assert_array_equal(model.params["weight_hh_l0"], no_bias.params["weight_hh_l0"])
    with pytest.raises(ValueError, match=r"weights\[0\]: expected no bias for a model made with bias=False"):
        from_keras_weights(no_bias, to_keras_weights(model))
