"""FrozenNetwork (net.frozen()): the network's own inference results, on read-only copies of its
parameters taken when it was frozen, on every backend (the cpp backend's side: test_cpp_cache.py;
calls of one or two steps, where the cpp backend rounds differently for a snapshot: test_cpp_kernels.py)."""

from __future__ import annotations

import numpy as np
import pytest

import fusedrnn as fr


def _same(a, b, label):
    """Same bits: two arrays, or two lists of arrays."""
    pairs = zip(a, b) if isinstance(a, list) else [(a, b)]
    for x, y in pairs:
        assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8)), f"{label}: differs"


def _outputs(result):
    y, state = result
    return [y, *(state if isinstance(state, tuple) else (state,))]


# (model, T, B): a one-unit-block net; batch 1 with each block's input projection a tile of its own
# (B*G*H*H >= 2^17); 16 rows with per-step input tiles; two layers in both directions, batch first.
CASES = [
    (lambda: fr.GRU(5, 7, seed=1), 4, 3),
    (lambda: fr.LSTM(24, 200, seed=2), 9, 1),
    (lambda: fr.RNN(8, 65, nonlinearity="relu", seed=3), 3, 16),
    (lambda: fr.GRU(6, 40, num_layers=2, bidirectional=True, batch_first=True, linear_before_reset=False, seed=4),
     5, 2),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_frozen_gives_the_networks_results(backend, rng, case):
    make, T, B = CASES[case]
    net = make()
    frozen = net.frozen()
    shape = (B, T, net.input_size) if net.batch_first else (T, B, net.input_size)
    x = rng.standard_normal(shape).astype(np.float32)
    lengths = rng.integers(0, T + 1, B)
    lengths[0] = T
    with fr.use_backend(backend.name):
        for _ in range(2):  # the second call on cached packings
            _same(_outputs(frozen(x)), _outputs(net(x)), f"case {case}")
            _same(_outputs(frozen(x, lengths=lengths)), _outputs(net(x, lengths=lengths)), f"case {case} lengths")
        x64 = x.astype(np.float64)  # computed in float64 on cast copies, as the network does
        _same(_outputs(frozen(x64)), _outputs(net(x64)), f"case {case} float64")


@pytest.mark.parametrize("make", [lambda: fr.LSTM(24, 200, seed=7), lambda: fr.GRU(24, 216, seed=8)])
def test_one_step_at_a_time_matches_one_call(backend, rng, make):
    """Generating step by step: each call of one step (batch 1, big enough for the cpp backend's input
    tiles on 2 threads) continues from the last call's state, as one call over the whole sequence."""
    net = make()
    frozen = net.frozen()
    x = rng.standard_normal((6, 1, 24)).astype(np.float32)
    with fr.use_backend(backend.name):
        y_full, final_full = frozen(x)
        state, steps = None, []
        for t in range(len(x)):
            y, state = frozen(x[t : t + 1], state)
            steps.append(y)
    np.testing.assert_allclose(np.concatenate(steps), y_full, rtol=1e-5, atol=1e-6)
    for got, expected in zip(_outputs((None, state))[1:], _outputs((None, final_full))[1:]):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_later_changes_to_the_network_do_not_reach_the_snapshot(backend, rng):
    net = fr.LSTM(16, 200, seed=5)
    x = rng.standard_normal((6, 1, 16)).astype(np.float32)
    with fr.use_backend(backend.name):
        frozen = net.frozen()
        before = frozen(x)[0]
        net.params["weight_hh_l0"] *= 0.5  # in place, on the network's own array
        net.params["weight_ih_l0"][0, 0] += 1.0
        _same(frozen(x)[0], before, "snapshot after the network changed")
        assert not np.array_equal(net(x)[0], before)
        _same(net.frozen()(x)[0], net(x)[0], "a new snapshot")


def test_the_snapshot_is_read_only():
    frozen = fr.GRU(4, 8, seed=6).frozen()
    with pytest.raises(ValueError, match="read-only"):
        frozen.params["weight_hh_l0"][0, 0] = 1.0
    with pytest.raises(TypeError):
        frozen.params["weight_hh_l0"] = np.zeros((24, 8), np.float32)
    copied = frozen.state_dict()["weight_hh_l0"]
    copied[0, 0] = 1.0  # a copy: writeable, and the snapshot keeps its value
    assert frozen.params["weight_hh_l0"][0, 0] != 1.0


def test_a_parameter_made_writeable_again_is_read_afresh(backend, rng):
    # Whoever makes a snapshot's array writeable and changes it gets results of the changed
    # weights, never those of the packings cached for the snapshot.
    net = fr.LSTM(16, 64, seed=7)
    x = rng.standard_normal((4, 1, 16)).astype(np.float32)
    with fr.use_backend(backend.name):
        frozen = net.frozen()
        before = frozen(x)[0]
        weight = frozen.params["weight_hh_l0"]
        weight.flags.writeable = True
        weight *= 0.5
        net.params["weight_hh_l0"] *= 0.5
        after = frozen(x)[0]
        assert not np.array_equal(after, before)
        _same(after, net(x)[0], "the snapshot after its changed weight")


def test_only_a_network_can_be_frozen():
    with pytest.raises(TypeError, match="net: expected an LSTM, GRU or RNN"):
        fr.FrozenNetwork({"weight_hh_l0": np.zeros((4, 4))})
    frozen = fr.RNN(3, 5, num_layers=2).frozen()
    assert repr(frozen) == "FrozenNetwork(RNN(3, 5, num_layers=2))"
    assert (frozen.input_size, frozen.hidden_size, frozen.num_layers, frozen.dtype) == (3, 5, 2, np.float32)
    assert not hasattr(frozen, "backward")
