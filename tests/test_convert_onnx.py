"""ONNX converters: exact round trips, gate blocks where the ONNX spec puts them, and converted
models run in onnxruntime giving the numpy reference's outputs and final states."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import fusedrnn as fr
from fusedrnn import cells
from fusedrnn.convert import from_onnx, from_onnx_model, to_onnx, to_onnx_model
from fusedrnn.weights import param_shapes
from tolerance import assert_close

ALL_CELLS = [cells.LSTM, cells.GRU, cells.GRU_RESET_BEFORE, cells.RNN_TANH, cells.RNN_RELU]
CELL_IDS = [cell.name for cell in ALL_CELLS]


def make_model(cell, **options):
    """A seeded fusedrnn model computing ``cell``."""
    if cell is cells.LSTM:
        return fr.LSTM(**options)
    if cell in (cells.GRU, cells.GRU_RESET_BEFORE):
        return fr.GRU(**options, linear_before_reset=cell is cells.GRU)
    return fr.RNN(**options, nonlinearity="tanh" if cell is cells.RNN_TANH else "relu")


def random_params(rng, cell, *, I=3, H=5, L=2, D=1, bias=True, dtype=np.float32):
    shapes = param_shapes(cell, I, H, L, D == 2, bias)
    return {name: rng.standard_normal(shape).astype(dtype) for name, shape in shapes.items()}


# --- per-layer converters: exact both ways --------------------------------------------------------
@pytest.mark.parametrize("cell", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("D", [1, 2], ids=["fwd", "bidir"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_then_from_onnx_is_exact(rng, cell, D, bias, dtype):
    params = random_params(rng, cell, L=2, D=D, bias=bias, dtype=dtype)
    back = {}
    for layer in range(2):
        onnx_weights = to_onnx(params, cell, layer=layer, num_directions=D)
        assert set(onnx_weights) == ({"W", "R", "B"} if bias else {"W", "R"})
        H, I = 5, 3 if layer == 0 else D * 5
        assert onnx_weights["W"].shape == (D, cell.gates * H, I)
        assert onnx_weights["R"].shape == (D, cell.gates * H, H)
        if bias:
            assert onnx_weights["B"].shape == (D, 2 * cell.gates * H)
        back.update(from_onnx(**onnx_weights, cell=cell, layer=layer))
    assert set(back) == set(params)
    for name, value in params.items():
        assert back[name].dtype == value.dtype, name
        np.testing.assert_array_equal(back[name], value, err_msg=name)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("D", [1, 2], ids=["fwd", "bidir"])
def test_from_then_to_onnx_is_exact(rng, cell, D):
    G, H, I = cell.gates, 4, 6
    W = rng.standard_normal((D, G * H, I)).astype(np.float32)
    R = rng.standard_normal((D, G * H, H)).astype(np.float32)
    B = rng.standard_normal((D, 2 * G * H)).astype(np.float32)
    again = to_onnx(from_onnx(W, R, B, cell=cell, layer=1), cell, layer=1, num_directions=D)
    for name, value in (("W", W), ("R", R), ("B", B)):
        np.testing.assert_array_equal(again[name], value, err_msg=name)


def blocks_filled(cell, H, I, values):
    """PyTorch-layout params whose gate block k (rows k*H..) is filled with values[k]."""
    column = np.repeat(np.asarray(values, dtype=np.float64), H)
    return {
        "weight_ih_l0": np.tile(column[:, None], (1, I)),
        "weight_hh_l0": np.tile(column[:, None], (1, H)),
        "bias_ih_l0": column.copy(),
        "bias_hh_l0": column + 10.0,
    }


@pytest.mark.parametrize(
    "cell, onnx_blocks",
    [
        # PyTorch LSTM blocks i, f, g, o = 0, 1, 2, 3; ONNX stacks i, o, f, c.
        (cells.LSTM, [0, 3, 1, 2]),
        # PyTorch GRU blocks r, z, n = 0, 1, 2; ONNX stacks z, r, h.
        (cells.GRU, [1, 0, 2]),
        (cells.GRU_RESET_BEFORE, [1, 0, 2]),
        (cells.RNN_TANH, [0]),
    ],
    ids=lambda v: v.name if isinstance(v, cells.CellSpec) else "",
)
def test_onnx_gate_blocks_follow_the_spec(cell, onnx_blocks):
    H, I = 2, 3
    out = to_onnx(blocks_filled(cell, H, I, range(cell.gates)), cell)
    expected = np.repeat(np.asarray(onnx_blocks, dtype=np.float64), H)
    np.testing.assert_array_equal(out["W"][0], np.tile(expected[:, None], (1, I)))
    np.testing.assert_array_equal(out["R"][0], np.tile(expected[:, None], (1, H)))
    # B = [Wb (input biases), Rb (recurrent biases)]
    np.testing.assert_array_equal(out["B"][0], np.concatenate([expected, expected + 10.0]))


def test_to_onnx_returns_new_arrays_and_leaves_params_alone(rng):
    params = random_params(rng, cells.LSTM, L=1, D=2)
    before = {name: value.copy() for name, value in params.items()}
    out = to_onnx(params, "lstm", num_directions=2)
    for value in out.values():
        value[...] = 0
    back = from_onnx(**to_onnx(params, "lstm", num_directions=2), cell="lstm")
    for value in back.values():
        value[...] = 0
    for name in params:
        np.testing.assert_array_equal(params[name], before[name])


@pytest.mark.parametrize(
    "call, error, message",
    [
        pytest.param(lambda p: to_onnx(p, "lstm", layer=1), ValueError, r"params: expected a 'weight_ih_l1'",
                     id="missing-layer"),
        pytest.param(lambda p: to_onnx(p, "lstm", num_directions=2), ValueError, r"weight_ih_l0_reverse",
                     id="missing-reverse"),
        pytest.param(lambda p: to_onnx(p, "gru"), ValueError, r"params\['weight_hh_l0'\]: expected shape \(G\*H, H\)",
                     id="wrong-cell"),
        pytest.param(lambda p: to_onnx(p, "lstm", num_directions=3), ValueError, r"num_directions: expected an int in",
                     id="three-directions"),
        pytest.param(lambda p: to_onnx(p, "peephole"), ValueError, r"cell: expected", id="unknown-cell"),
        pytest.param(lambda p: to_onnx(list(p.values()), "lstm"), TypeError,
                     r"params: expected a dict of PyTorch name -> array, got list", id="params-list"),
        pytest.param(lambda p: to_onnx({k: v for k, v in p.items() if k != "bias_hh_l0"}, "lstm"), ValueError,
                     r"'bias_hh_l0' next to 'bias_ih_l0'", id="one-bias"),
        pytest.param(lambda p: from_onnx(np.zeros((1, 20, 3)), np.zeros((1, 20, 4)), cell="lstm"), ValueError,
                     r"R: expected shape \(D, G\*H, H\)", id="R-wrong-G"),
        pytest.param(lambda p: from_onnx(np.zeros((1, 16, 3)), np.zeros((1, 16, 4)), np.zeros((1, 16)),
                                         cell="lstm"), ValueError, r"B: expected shape \(1, 32\), got \(1, 16\)",
                     id="B-short"),
        pytest.param(lambda p: from_onnx(np.zeros((2, 16, 3)), np.zeros((1, 16, 4)), cell="lstm"), ValueError,
                     r"W: expected shape \(1, 16, I\), got \(2, 16, 3\)", id="W-directions"),
        pytest.param(lambda p: from_onnx(np.zeros((1, 16, 3), np.int64), np.zeros((1, 16, 4)), cell="lstm"),
                     TypeError, r"W: expected float32 or float64", id="W-int"),
    ],
)
def test_bad_arguments_are_named(rng, call, error, message):
    params = random_params(rng, cells.LSTM, I=3, H=4, L=1, D=1)
    with pytest.raises(error, match=message):
        call(params)


# --- whole models in onnxruntime ----------------------------------------------------------------
def run_onnx(proto, feeds):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def reference_and_onnx(rng, model, *, T=7, B=3, lengths=None, with_state=True, **export):
    """(fusedrnn's numpy reference outputs, onnxruntime's outputs), both as dicts y / h_n / c_n."""
    D = 2 if model.bidirectional else 1
    shape = (B, T, model.input_size) if model.batch_first else (T, B, model.input_size)
    x = rng.standard_normal(shape).astype(np.float32)
    states = [rng.standard_normal((model.num_layers * D, B, model.hidden_size)).astype(np.float32)
              for _ in range(2 if model.cell.has_cell_state else 1)]
    state = (tuple(states) if model.cell.has_cell_state else states[0]) if with_state else None
    with fr.use_backend("numpy"):
        y, final = model(x, state, lengths)
    expected = {"y": y, "h_n": final[0] if model.cell.has_cell_state else final}
    if model.cell.has_cell_state:
        expected["c_n"] = final[1]
    feeds = {"x": x}
    if with_state:
        feeds.update(zip(("h0", "c0"), states))
    if lengths is not None:
        feeds["lengths"] = np.asarray(lengths, dtype=np.int64)
    proto = to_onnx_model(model, initial_state=with_state, lengths=lengths is not None, **export)
    return expected, run_onnx(proto, feeds)


def assert_outputs_match(actual, expected):
    assert set(actual) == set(expected)
    for name in expected:
        assert_close(name, actual[name], expected[name], np.float32)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["fwd", "bidir"])
def test_onnxruntime_matches_reference(rng, cell, bidirectional):
    model = make_model(cell, input_size=4, hidden_size=6, num_layers=2, bidirectional=bidirectional, seed=3)
    expected, actual = reference_and_onnx(rng, model)
    assert_outputs_match(actual, expected)


@pytest.mark.parametrize("cell", [cells.LSTM, cells.GRU_RESET_BEFORE, cells.RNN_RELU], ids=lambda c: c.name)
def test_onnxruntime_matches_reference_with_lengths_and_batch_first(rng, cell):
    model = make_model(cell, input_size=5, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True,
                       seed=4)
    expected, actual = reference_and_onnx(rng, model, T=6, B=4, lengths=[6, 2, 1, 5])
    assert_outputs_match(actual, expected)


@pytest.mark.parametrize("cell", [cells.GRU, cells.RNN_TANH], ids=lambda c: c.name)
def test_onnxruntime_without_bias_or_initial_state(rng, cell):
    model = make_model(cell, input_size=3, hidden_size=5, num_layers=1, bias=False, seed=5)
    expected, actual = reference_and_onnx(rng, model, with_state=False)
    assert_outputs_match(actual, expected)


def test_float64_graph_and_saved_file(rng, tmp_path):
    model = make_model(cells.RNN_TANH, input_size=3, hidden_size=4, num_layers=2, bidirectional=True, seed=6,
                       dtype=np.float64)
    path = tmp_path / "rnn.onnx"
    proto = to_onnx_model(model, path, dtype=np.float64)
    assert onnx.load(str(path)) == proto
    W = onnx.numpy_helper.to_array(next(i for i in proto.graph.initializer if i.name == "W_l1"))
    assert W.dtype == np.float64
    np.testing.assert_array_equal(W, to_onnx(model.params, model.cell, layer=1, num_directions=2)["W"])
    assert from_onnx_model(path).dtype == np.float64


@pytest.mark.parametrize("cell", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_model_round_trip_through_an_onnx_graph_is_exact(cell, bias):
    model = make_model(cell, input_size=3, hidden_size=4, num_layers=2, bidirectional=True, bias=bias, seed=7)
    again = from_onnx_model(to_onnx_model(model), batch_first=True)
    assert type(again) is type(model)
    assert (again.cell, again.input_size, again.hidden_size, again.num_layers, again.bidirectional, again.bias,
            again.batch_first) == (model.cell, 3, 4, 2, True, bias, True)
    assert set(again.params) == set(model.params)
    for name, value in model.params.items():
        np.testing.assert_array_equal(again.params[name], value, err_msg=name)


def edited(proto, layer=0, **attributes):
    """A copy of ``proto`` whose recurrent node number ``layer`` has ``attributes`` set."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    node = [n for n in copy.graph.node if n.op_type in ("LSTM", "GRU", "RNN")][layer]
    kept = [a for a in node.attribute if a.name not in attributes]
    del node.attribute[:]
    node.attribute.extend(kept + [onnx.helper.make_attribute(k, v) for k, v in attributes.items()])
    return copy


@pytest.mark.parametrize(
    "cell, attributes, message",
    [
        (cells.LSTM, dict(direction="reverse"), r"expected direction 'forward' or 'bidirectional', got 'reverse'"),
        (cells.LSTM, dict(clip=3.0), r"expected no 'clip' attribute"),
        (cells.LSTM, dict(input_forget=1), r"expected input_forget=0"),
        (cells.RNN_TANH, dict(activations=["Sigmoid"]), r"expected activations \['Tanh'\] or \['Relu'\]"),
        (cells.GRU, dict(activations=["HardSigmoid", "Tanh"]), r"expected activations \['Sigmoid', 'Tanh'\]"),
        (cells.LSTM, dict(hidden_size=7), r"H = hidden_size 7, got R \(1, 16, 4\)"),
    ],
    ids=["reverse", "clip", "input_forget", "rnn-sigmoid", "gru-hardsigmoid", "hidden_size"],
)
def test_from_onnx_model_refuses_what_it_cannot_compute(cell, attributes, message):
    proto = to_onnx_model(make_model(cell, input_size=3, hidden_size=4, seed=8))
    with pytest.raises(ValueError, match=message):
        from_onnx_model(edited(proto, **attributes))


def test_from_onnx_model_refuses_layers_that_differ():
    proto = to_onnx_model(make_model(cells.GRU, input_size=3, hidden_size=4, num_layers=2, seed=8))
    with pytest.raises(ValueError, match=r"layer 1: expected \(cell, D, H, input size, dtype\) \('gru', "):
        from_onnx_model(edited(proto, layer=1, linear_before_reset=0))


def test_from_onnx_model_reads_the_gru_form_from_linear_before_reset():
    proto = to_onnx_model(make_model(cells.GRU, input_size=3, hidden_size=4, seed=9))
    assert from_onnx_model(proto).cell is cells.GRU
    assert from_onnx_model(edited(proto, linear_before_reset=0)).cell is cells.GRU_RESET_BEFORE


@pytest.mark.parametrize(
    "make_torch, cell",
    [
        (lambda torch: torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True), cells.LSTM),
        (lambda torch: torch.nn.GRU(3, 4, num_layers=2, bidirectional=True), cells.GRU),
        (lambda torch: torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu"), cells.RNN_RELU),
        (lambda torch: torch.nn.RNN(3, 4, bias=False, bidirectional=True), cells.RNN_TANH),
    ],
    ids=["lstm", "gru", "rnn_relu", "rnn_tanh-nobias"],
)
def test_from_onnx_model_reads_pytorch_exports_exactly(tmp_path, make_torch, cell):
    # PyTorch's exporter permutes the gates itself: an independent check of ours.
    import torch  # in the test extras; imported here, as only this test needs it
    module = make_torch(torch)
    path = tmp_path / "torch.onnx"
    with warnings.catch_warnings():  # the legacy exporter's deprecation and batch-size notices
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(5, 2, 3),), str(path), dynamo=False)
    model = from_onnx_model(path)
    assert model.cell is cell
    expected = {name: value.detach().numpy() for name, value in module.state_dict().items()}
    assert set(model.params) == set(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(model.params[name], value, err_msg=name)
