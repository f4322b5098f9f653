"""Bad input raises a clear exception naming the argument, on every backend; the caller's data is never touched."""

from __future__ import annotations

import numpy as np
import pytest

import fusedrnn as fr
from tolerance import assert_close

T, B, I, H = 5, 3, 4, 6


def lstm(**kwargs):
    return fr.LSTM(I, H, num_layers=2, bidirectional=True, seed=0, **kwargs)


def x32(*shape):
    return np.zeros(shape or (T, B, I), np.float32)


FORWARD_CASES = [
    pytest.param(dict(x=x32(T, I)), ValueError, r"x: expected 3 dimensions \(T, B, I\), got shape \(5, 4\)", id="x-ndim"),
    pytest.param(dict(x=np.zeros((T, B, I), np.int64)), TypeError, r"x: expected dtype float32 or float64, got int64", id="x-int"),
    pytest.param(dict(x=np.zeros((T, B, I), np.float16)), TypeError, r"x: expected dtype float32 or float64", id="x-float16"),
    pytest.param(dict(x=x32(T, B, I + 1)), ValueError, r"x: expected \(T, B, I\) with I = input_size = 4, got shape \(5, 3, 5\)", id="x-wrong-I"),
    pytest.param(dict(x=x32(T, 0, I)), ValueError, r"x: expected a batch of at least one sequence", id="x-empty-batch"),
    pytest.param(dict(x=None), TypeError, r"x: expected an array, got None", id="x-none"),
    pytest.param(dict(state=np.zeros((4, B, H), np.float32)), TypeError, r"state: expected a pair \(h, c\) for an LSTM", id="state-not-pair"),
    pytest.param(dict(state=(np.zeros((4, B, H - 1), np.float32), np.zeros((4, B, H), np.float32))), ValueError,
                 r"h0: expected shape \(4, 3, 6\) \(L\*D, B, H\), got \(4, 3, 5\)", id="h0-wrong-H"),
    pytest.param(dict(state=(np.zeros((4, B, H), np.float32), np.zeros((2, B, H), np.float32))), ValueError,
                 r"c0: expected shape \(4, 3, 6\)", id="c0-wrong-layers"),
    pytest.param(dict(state=(np.zeros((4, B, H), np.float64), np.zeros((4, B, H), np.float32))), TypeError,
                 r"h0: expected dtype float32 \(the dtype of x\), got float64", id="h0-dtype"),
    pytest.param(dict(lengths=np.array([1, 2])), ValueError, r"lengths: expected shape \(3,\)", id="lengths-shape"),
    pytest.param(dict(lengths=np.array([1.0, 2.0, 3.0])), TypeError, r"lengths: expected an integer array, got dtype float64", id="lengths-float"),
    pytest.param(dict(lengths=np.array([1, 2, 6])), ValueError, r"lengths: expected values in \[0, T=5\], got min 1 and max 6", id="lengths-too-long"),
    pytest.param(dict(lengths=np.array([-1, 2, 3])), ValueError, r"lengths: expected values in \[0, T=5\]", id="lengths-negative"),
    pytest.param(dict(lengths=np.array([True, True, False])), TypeError, r"lengths: expected an integer array, got dtype bool", id="lengths-bool"),
]


@pytest.mark.parametrize("batch", [64, 65, 300], ids=lambda b: f"B={b}")
def test_lengths_out_of_range_in_a_large_batch(batch):
    # Small batches check their lengths as a Python list, larger ones with numpy: the same message.
    lengths = np.full(batch, 2)
    lengths[batch // 2] = T + 1
    with pytest.raises(ValueError, match=rf"lengths: expected values in \[0, T=5\], got min 2 and max 6"):
        fr.GRU(I, H)(np.zeros((T, batch, I), np.float32), lengths=lengths)
    lengths[batch // 2] = -3
    with pytest.raises(ValueError, match=r"got min -3 and max 2"):
        fr.GRU(I, H)(np.zeros((T, batch, I), np.float32), lengths=lengths.astype(np.int32))


@pytest.mark.parametrize("kwargs, error, message", FORWARD_CASES)
def test_bad_forward_input_raises_naming_the_argument(backend, kwargs, error, message):
    model = lstm()
    call = dict(x=x32(), state=None, lengths=None) | kwargs
    with fr.use_backend(backend.name), pytest.raises(error, match=message):
        model.forward(call["x"], call["state"], call["lengths"], train=True)


def test_single_state_cell_rejects_a_pair():
    with pytest.raises(TypeError, match=r"state: expected a single array h for gru"):
        fr.GRU(I, H)(x32(), (np.zeros((1, B, H), np.float32),) * 2)


BACKWARD_CASES = [
    pytest.param(dict(dy=np.zeros((T, B, H), np.float32)), ValueError, r"dy: expected shape \(5, 3, 12\) \(the shape of y\), got \(5, 3, 6\)", id="dy-shape"),
    pytest.param(dict(dy=np.zeros((T, B, 2 * H), np.float64)), TypeError, r"dy: expected dtype float32 \(the dtype of y\), got float64", id="dy-dtype"),
    pytest.param(dict(dstate=np.zeros((4, B, H), np.float32)), TypeError, r"dstate: expected a pair \(h, c\)", id="dstate-not-pair"),
    pytest.param(dict(dstate=(np.zeros((4, B, H), np.float32), np.zeros((4, B, 1), np.float32))), ValueError, r"dc_n: expected shape", id="dc_n-shape"),
    pytest.param(dict(clip=dict(max_norm=1.0)), TypeError, r"clip: expected fusedrnn.Clip or None, got dict", id="clip-type"),
    pytest.param(dict(tape="tape"), TypeError, r"tape: expected the tape of forward\(..., train=True\), got str", id="tape-type"),
]


@pytest.mark.parametrize("kwargs, error, message", BACKWARD_CASES)
def test_bad_backward_input_raises_naming_the_argument(backend, kwargs, error, message):
    model = lstm()
    with fr.use_backend(backend.name):
        _, _, tape = model.forward(x32(), train=True)
        call = dict(tape=tape, dy=np.zeros((T, B, 2 * H), np.float32), dstate=None, clip=None) | kwargs
        with pytest.raises(error, match=message):
            model.backward(call["tape"], call["dy"], call["dstate"], clip=call["clip"])


def test_tape_of_another_model_is_refused():
    _, _, tape = lstm().forward(x32(), train=True)
    other = fr.LSTM(I, H, seed=0)
    with pytest.raises(ValueError, match=r"tape: expected a tape made by this model's forward"):
        other.backward(tape, np.zeros((T, B, H), np.float32))


@pytest.mark.parametrize(
    "make, error, message",
    [
        pytest.param(lambda: fr.LSTM(0, 4), ValueError, r"input_size: expected a positive int", id="input_size-0"),
        pytest.param(lambda: fr.LSTM(4, 2.5), TypeError, r"hidden_size: expected a positive int, got 2.5", id="hidden_size-float"),
        pytest.param(lambda: fr.GRU(4, 4, num_layers=True), TypeError, r"num_layers: expected a positive int", id="num_layers-bool"),
        pytest.param(lambda: fr.LSTM(4, 4, 2, dropout=1.0), ValueError, r"dropout: expected a number in \[0, 1\)", id="dropout-1"),
        pytest.param(lambda: fr.RNN(4, 4, nonlinearity="sigmoid"), ValueError, r"nonlinearity: expected 'tanh' or 'relu'", id="nonlinearity"),
        pytest.param(lambda: fr.LSTM(4, 4, dtype=np.int32), TypeError, r"dtype: expected float32 or float64, got int32", id="dtype"),
        pytest.param(lambda: fr.Clip(max_norm=-1.0), ValueError, r"clip.max_norm: expected a positive finite number", id="clip-negative"),
        pytest.param(lambda: fr.Clip(gate_value=float("nan")), ValueError, r"clip.gate_value: expected a positive finite", id="clip-nan"),
        pytest.param(lambda: fr.Clip(value="1"), TypeError, r"clip.value: expected a positive number or None", id="clip-str"),
        pytest.param(lambda: fr.use_backend("cuda").__enter__(), ValueError, r"backend: expected one of \['cpp', 'numba', 'numpy'\], got 'cuda'", id="backend-name"),
        pytest.param(lambda: fr.set_num_threads(0), ValueError, r"n: expected a positive int", id="threads-0"),
    ],
)
def test_bad_construction_raises_naming_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_dropout_with_one_layer_warns_as_torch_does():
    with pytest.warns(UserWarning, match=r"dropout: 0.5 has no effect with num_layers=1"):
        fr.LSTM(4, 4, dropout=0.5)


def test_load_state_dict_checks_names_and_shapes():
    model = lstm()
    good = model.state_dict()
    with pytest.raises(ValueError, match=r"params: missing \['bias_hh_l1_reverse'\]"):
        model.load_state_dict({k: v for k, v in good.items() if k != "bias_hh_l1_reverse"})
    with pytest.raises(ValueError, match=r"weight_hh_l0: expected shape \(24, 6\), got \(24, 5\)"):
        model.load_state_dict(good | {"weight_hh_l0": np.zeros((24, 5), np.float32)})
    with pytest.raises(ValueError, match=r"unexpected \['weight_hr_l0'\]"):
        model.load_state_dict(good | {"weight_hr_l0": np.zeros((6, 6), np.float32)})


PARAMS_WRITES = [
    pytest.param(lambda p: p | {"weight_hh_l0": np.zeros((24, 5), np.float32)}, ValueError,
                 r"params\['weight_hh_l0'\]: expected shape \(24, 6\), got \(24, 5\)", id="shape"),
    pytest.param(lambda p: p | {"bias_hh_l1": p["bias_hh_l1"][None]}, ValueError,
                 r"params\['bias_hh_l1'\]: expected shape \(24,\), got \(1, 24\)", id="bias-2d"),
    pytest.param(lambda p: p | {"weight_ih_l0": p["weight_ih_l0"].astype(np.int32)}, TypeError,
                 r"params\['weight_ih_l0'\]: expected dtype float32 or float64, got int32", id="int"),
    pytest.param(lambda p: p | {"weight_hh_l1_reverse": p["weight_hh_l1_reverse"].tolist()}, TypeError,
                 r"params\['weight_hh_l1_reverse'\]: expected a NumPy array, got list", id="list"),
    pytest.param(lambda p: {k: v for k, v in p.items() if k != "bias_ih_l1"}, ValueError,
                 r"params: missing \['bias_ih_l1'\], unexpected \[\]", id="missing"),
    pytest.param(lambda p: p | {"weight_hr_l0": np.zeros((6, 6), np.float32)}, ValueError,
                 r"params: missing \[\], unexpected \['weight_hr_l0'\]", id="extra"),
    pytest.param(lambda p: list(p.values()), TypeError, r"params: expected a dict of name -> NumPy array, got list",
                 id="not-a-dict"),
]


@pytest.mark.parametrize("write, error, message", PARAMS_WRITES)
def test_arrays_written_into_params_are_checked_before_every_use(backend, write, error, message):
    """model.params is the user's dict: what is written there is checked by forward, backward and frozen()
    alike, on every backend, instead of reaching a kernel (a crash, or integer gradients)."""
    model = lstm()
    good = dict(model.params)
    with fr.use_backend(backend.name):
        _, _, tape = model.forward(x32(), train=True)
        model.params = write(good)
        with pytest.raises(error, match=message):
            model(x32())
        with pytest.raises(error, match=message):
            model.backward(tape, np.zeros((T, B, 2 * H), np.float32))
        with pytest.raises(error, match=message):
            model.frozen()
        model.params = good
        model.backward(tape, np.zeros((T, B, 2 * H), np.float32))


def test_params_of_the_other_float_dtype_are_used_and_get_gradients_of_their_dtype(backend, rng):
    model = lstm()
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    dy = rng.standard_normal((T, B, 2 * H)).astype(np.float32)
    with fr.use_backend(backend.name):
        y, _, tape = model.forward(x, train=True)
        grads = model.backward(tape, dy)
        model.params["weight_hh_l0"] = model.params["weight_hh_l0"].astype(np.float64)
        y64, _, tape64 = model.forward(x, train=True)
        grads64 = model.backward(tape64, dy)
    # x's dtype is the compute dtype; the float64 copy holds the same values, so the same bits come out
    assert y64.dtype == np.float32 and np.array_equal(y64, y)
    assert grads64.params["weight_hh_l0"].dtype == np.float64
    assert grads64.params["weight_ih_l0"].dtype == np.float32
    for name, grad in grads.params.items():
        assert np.array_equal(grads64.params[name], grad), name


def test_callers_arrays_are_never_modified(backend, rng):
    model = fr.LSTM(I, H, num_layers=2, bidirectional=True, dropout=0.3, seed=0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    state = tuple(rng.standard_normal((4, B, H)).astype(np.float32) for _ in range(2))
    dy = rng.standard_normal((T, B, 2 * H)).astype(np.float32)
    dstate = tuple(rng.standard_normal((4, B, H)).astype(np.float32) for _ in range(2))
    lengths = np.array([5, 0, 2])
    inputs = [x, *state, dy, *dstate, lengths, *model.params.values()]
    before = [a.copy() for a in inputs]
    with fr.use_backend(backend.name):
        _, _, tape = model.forward(x, state, lengths, train=True)
        model.backward(tape, dy, dstate, clip=fr.Clip(max_norm=0.1, value=0.01, gate_value=0.1))
    for original, after in zip(before, inputs):
        np.testing.assert_array_equal(original, after)


def test_non_contiguous_and_read_only_inputs_are_read_correctly(backend, rng):
    model = fr.GRU(I, H, num_layers=2, seed=0, dtype=np.float64)
    big = rng.standard_normal((T, B, 2 * I))
    strided = big[:, :, ::2]                      # non-contiguous view
    fortran = np.asfortranarray(strided)
    frozen = strided.copy()
    frozen.flags.writeable = False
    with fr.use_backend(backend.name):
        expected, _ = model(np.ascontiguousarray(strided))
        for variant in (strided, fortran, frozen, big.transpose(1, 0, 2)[:, :, ::2].transpose(1, 0, 2)):
            actual, _ = model(variant)
            np.testing.assert_array_equal(actual, expected)


def test_nan_propagates_never_hidden(backend, rng):
    model = fr.LSTM(I, H, seed=0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    x[2, 0, 1] = np.nan
    with fr.use_backend(backend.name):
        y, (h, c), tape = model.forward(x, train=True)
        grads = model.backward(tape, np.ones_like(y))
    assert np.isnan(y[2:, 0]).all() and np.isfinite(y[:2, 0]).all()
    assert np.isfinite(y[:, 1:]).all() and np.isfinite(h[0, 1:]).all()
    assert np.isnan(h[0, 0]).all() and np.isnan(c[0, 0]).all()
    assert np.isnan(grads.params["weight_ih_l0"]).any() and np.isnan(grads.norm)


def test_inf_gives_what_the_reference_gives(backend, rng):
    model = fr.GRU(I, H, seed=0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    x[3, 1, 0] = np.inf
    results = {}
    for name in ("numpy", backend.name):
        with fr.use_backend(name):
            y, h, tape = model.forward(x, train=True)
            grads = model.backward(tape, np.ones_like(y))
        results[name] = {"y": y, "h": h, "x.grad": grads.x, **grads.params}
    for key, expected in results["numpy"].items():
        assert_close(key, results[backend.name][key], expected, np.float32)


def test_zero_steps_return_the_initial_state(backend, rng):
    model = fr.LSTM(I, H, num_layers=2, seed=0)
    state = tuple(rng.standard_normal((2, B, H)).astype(np.float32) for _ in range(2))
    with fr.use_backend(backend.name):
        y, (h, c), tape = model.forward(np.zeros((0, B, I), np.float32), state, train=True)
        grads = model.backward(tape, np.zeros((0, B, H), np.float32), tuple(np.ones((2, B, H), np.float32) for _ in range(2)))
    assert y.shape == (0, B, H)
    np.testing.assert_array_equal(h, state[0])
    np.testing.assert_array_equal(c, state[1])
    np.testing.assert_array_equal(grads.state[0], np.ones((2, B, H)))
    assert grads.x.shape == (0, B, I)
    assert all(not g.any() for g in grads.params.values()) and grads.norm == 0.0
