"""Whole networks on the numpy reference against central finite differences (float64).

One random direction per tensor: <grad, v> must equal (f(θ + εv) - f(θ - εv)) / 2ε, for x,
the initial states and every parameter, through layers, both directions, lengths with
zeros, batch_first, bias=False and dropout (a fixed seed keeps the masks fixed).
"""

from __future__ import annotations

import numpy as np
import pytest

import fusedrnn as fr

EPS = 1e-6

MODELS = {
    "lstm": lambda **k: fr.LSTM(3, 5, **k),
    "gru": lambda **k: fr.GRU(3, 5, **k),
    "gru_reset_before": lambda **k: fr.GRU(3, 5, linear_before_reset=False, **k),
    "rnn_tanh": lambda **k: fr.RNN(3, 5, nonlinearity="tanh", **k),
    "rnn_relu": lambda **k: fr.RNN(3, 5, nonlinearity="relu", **k),
}
CONFIGS = [
    pytest.param(dict(num_layers=2, bidirectional=True), True, id="2layers-bidir-lengths"),
    pytest.param(dict(num_layers=3, dropout=0.4, batch_first=True), False, id="3layers-dropout-batch_first"),
    pytest.param(dict(bidirectional=True, bias=False), True, id="bidir-nobias-lengths"),
]


def loss_and_grads(model, x, state, lengths, weights, seed, clip=None):
    """f = <y, Wy> + <h_n, Wh> (+ <c_n, Wc>) and its gradients from backward."""
    with fr.use_backend("numpy"):
        y, final, tape = model.forward(x, state, lengths, train=True, seed=seed)
        finals = final if isinstance(final, tuple) else (final,)
        loss = float(np.sum(y * weights[0]) + sum(np.sum(f * w) for f, w in zip(finals, weights[1:])))
        dstate = tuple(weights[1:]) if isinstance(final, tuple) else weights[1]
        grads = model.backward(tape, weights[0], dstate, clip=clip)
    return loss, grads


def directional_derivative(model, x, state, lengths, weights, seed, which, direction):
    """(f(θ + εv) - f(θ - εv)) / 2ε with θ the tensor named `which`."""
    def perturbed(sign):
        params = dict(model.params)
        xs, states = x, state
        step = sign * EPS * direction
        if which == "x":
            xs = x + step
        elif which in ("h0", "c0"):
            parts = list(state)
            parts[("h0", "c0").index(which)] = parts[("h0", "c0").index(which)] + step
            states = tuple(parts)
        else:
            params[which] = params[which] + step
        saved = model.params
        model.params = params
        try:
            return loss_and_grads(model, xs, states if model.cell.has_cell_state else states[0], lengths, weights, seed)[0]
        finally:
            model.params = saved
    return (perturbed(+1) - perturbed(-1)) / (2 * EPS)


@pytest.mark.parametrize("config, ragged", CONFIGS)
@pytest.mark.parametrize("cell", list(MODELS))
def test_network_gradients_match_finite_differences(cell, config, ragged, rng):
    model = MODELS[cell](dtype=np.float64, seed=11, **config)
    T, B, L, D, H = 5, 3, model.num_layers, model.num_directions, model.hidden_size
    x = rng.standard_normal((B, T, 3) if model.batch_first else (T, B, 3))
    state = tuple(0.5 * rng.standard_normal((L * D, B, H)) for _ in range(2))
    lengths = np.array([5, 0, 3]) if ragged else None
    y_shape = (B, T, D * H) if model.batch_first else (T, B, D * H)
    weights = [rng.standard_normal(y_shape), rng.standard_normal((L * D, B, H)), rng.standard_normal((L * D, B, H))]
    if not model.cell.has_cell_state:
        weights = weights[:2]
    user_state = state if model.cell.has_cell_state else state[0]
    _, grads = loss_and_grads(model, x, user_state, lengths, weights, seed=99)

    named = {"x": grads.x, **grads.params}
    named.update(zip(("h0", "c0"), grads.state) if model.cell.has_cell_state else {"h0": grads.state}.items())
    for which, grad in named.items():
        direction = rng.standard_normal(grad.shape)
        expected = directional_derivative(model, x, state, lengths, weights, 99, which, direction)
        actual = float(np.sum(grad * direction))
        assert actual == pytest.approx(expected, rel=1e-6, abs=1e-8), which


@pytest.mark.parametrize("cell", ["lstm", "gru_reset_before"])
def test_max_norm_scales_every_parameter_gradient(cell, rng):
    model = MODELS[cell](num_layers=2, bidirectional=True, dtype=np.float64, seed=2)
    x = rng.standard_normal((6, 2, 3))
    dy = 5 * rng.standard_normal((6, 2, 10))
    y, _, tape = model.forward(x, train=True)
    free = model.backward(tape, dy)
    clipped = model.backward(tape, dy, clip=fr.Clip(max_norm=0.3))
    norm = np.sqrt(sum(np.sum(g**2) for g in free.params.values()))
    assert free.norm == pytest.approx(norm, rel=1e-12)
    assert clipped.norm == pytest.approx(norm, rel=1e-12)        # the pre-clip norm is returned
    for name, grad in free.params.items():
        np.testing.assert_allclose(clipped.params[name], grad * 0.3 / (norm + 1e-6), rtol=1e-12, err_msg=name)
    np.testing.assert_array_equal(clipped.x, free.x)             # inputs' gradients are never clipped
    after = np.sqrt(sum(np.sum(g**2) for g in clipped.params.values()))
    assert after == pytest.approx(0.3, rel=1e-5)


def test_value_clip_applies_before_max_norm(rng):
    model = fr.GRU(3, 4, num_layers=2, dtype=np.float64, seed=4)
    x = rng.standard_normal((5, 2, 3))
    dy = 10 * rng.standard_normal((5, 2, 4))
    _, _, tape = model.forward(x, train=True)
    free = model.backward(tape, dy)
    both = model.backward(tape, dy, clip=fr.Clip(value=0.05, max_norm=0.2))
    clamped = {k: np.clip(g, -0.05, 0.05) for k, g in free.params.items()}
    norm = np.sqrt(sum(np.sum(g**2) for g in clamped.values()))
    assert both.norm == pytest.approx(norm, rel=1e-12)
    for name, grad in clamped.items():
        np.testing.assert_allclose(both.params[name], grad * min(1.0, 0.2 / (norm + 1e-6)), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", list(MODELS))
def test_gate_value_clip_changes_what_flows_back_in_time(cell, rng):
    model = MODELS[cell](num_layers=2, dtype=np.float64, seed=8)
    x = 3 * rng.standard_normal((8, 2, 3))
    dy = 10 * rng.standard_normal((8, 2, 5))
    _, _, tape = model.forward(x, train=True)
    free = model.backward(tape, dy)
    loose = model.backward(tape, dy, clip=fr.Clip(gate_value=1e9))
    tight = model.backward(tape, dy, clip=fr.Clip(gate_value=1e-3))
    np.testing.assert_array_equal(loose.x, free.x)
    assert not np.allclose(tight.x, free.x)
    # every gate pre-activation gradient is within ±1e-3, so db_ih (their sum over steps and batch) is bounded
    steps_times_batch = 8 * 2
    for name, grad in tight.params.items():
        if name.startswith("bias_ih"):
            assert np.abs(grad).max() <= 1e-3 * steps_times_batch + 1e-12, name


def test_dropout_is_seeded_and_only_in_training(rng):
    model = fr.LSTM(3, 4, num_layers=3, dropout=0.5, dtype=np.float64, seed=1)
    x = rng.standard_normal((4, 2, 3))
    y_eval, _ = model(x)
    y_eval_again, _, tape = model.forward(x, train=False)
    assert tape is None
    np.testing.assert_array_equal(y_eval, y_eval_again)
    y_a, _, _ = model.forward(x, train=True, seed=5)
    y_b, _, _ = model.forward(x, train=True, seed=5)
    y_c, _, _ = model.forward(x, train=True, seed=6)
    np.testing.assert_array_equal(y_a, y_b)
    assert not np.array_equal(y_a, y_c)
    assert not np.array_equal(y_a, y_eval)
