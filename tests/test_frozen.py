"""FrozenNetwork (net.frozen()): the network's own inference results, on read-only copies of its
parameters taken when it was frozen, on every backend (the cpp backend's side: test_cpp_cache.py;
calls of one or two steps, where the cpp backend rounds differently for a snapshot: test_cpp_kernels.py)."""

from __future__ import annotations

import re

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


def _copy_state(state):
    return tuple(np.copy(a) for a in state) if isinstance(state, tuple) else np.copy(state)


@pytest.mark.parametrize("make", [lambda: fr.LSTM(6, 20, seed=9), lambda: fr.GRU(6, 20, seed=10),
                                  lambda: fr.GRU(6, 20, linear_before_reset=False, seed=11),
                                  lambda: fr.RNN(6, 20, nonlinearity="relu", seed=12)])
def test_one_layer_calls_without_lengths_take_the_shortcut_with_the_same_results(backend, rng, make):
    """A one-layer snapshot called without lengths skips the general path (frozen.py _one_layer_call),
    keeping full lengths and zero states from its last such call: its results are the general path's bit for
    bit (an explicit full lengths takes that path) as the shape changes from call to call, with and without
    the state a call returned; the states it returns are the caller's to change; and whatever it refuses
    (x or a state it does not take as it is, T = 0) gets the general path's answer, errors included."""
    net = make()
    frozen = net.frozen()
    with fr.use_backend(backend.name):
        state = None
        for i, (T, B) in enumerate([(1, 1), (1, 1), (3, 1), (3, 2), (1, 2), (2, 2), (5, 1)]):
            x = rng.standard_normal((T, B, 6)).astype(np.float32)
            if state is not None and _outputs((None, state))[1].shape[1] != B:
                state = None
            full = np.full(B, T)
            got = frozen(x, state)
            label = f"T={T} B={B} with{'out' if state is None else ''} a state"
            _same(_outputs(got), _outputs(frozen(x, state, lengths=full)), label)
            if T * B > 2:  # one or two pairs: the network's products come from BLAS (README)
                _same(_outputs(got), _outputs(net(x, state, lengths=full)), f"{label}, the network")
            state = _copy_state(got[1]) if i % 2 == 0 else None
            for array in _outputs(got)[1:]:
                array[...] = 7.0  # the caller's to change (never the kept zeros): later calls must not see it
        x = rng.standard_normal((3, 1, 12)).astype(np.float32)  # three pairs: the network rounds as the snapshot
        h = rng.standard_normal((1, 1, 20)).astype(np.float32)
        given = (h, h.copy()) if net.cell.has_cell_state else h
        strided = rng.standard_normal((1, 1, 40)).astype(np.float32)[:, :, ::2]
        refused = {"x not contiguous": (x[:, :, ::2], None), "x float64": (x[:, :, :6].astype(np.float64), None),
                   "x a list": (x[:, :, :6].tolist(), None), "T = 0": (np.zeros((0, 1, 6), np.float32), None),
                   "a state not contiguous": (x[:, :, :6].copy(), (strided, h) if net.cell.has_cell_state else strided),
                   "a state as a list (h, c)": (x[:, :, :6].copy(), list(given) if net.cell.has_cell_state else given)}
        for label, (value, initial) in refused.items():
            _same(_outputs(frozen(value, initial)), _outputs(net(value, initial)), label)
        wrong_h = np.zeros((1, 2, 20), np.float32)
        for bad, initial in [(np.zeros((2, 1, 5), np.float32), None), (np.zeros((2, 6), np.float32), None),
                             (np.zeros((2, 0, 6), np.float32), None), (np.zeros((2, 1, 6), np.int32), None),
                             (np.zeros((2, 1, 6), np.float32), (wrong_h, wrong_h) if net.cell.has_cell_state
                              else wrong_h),
                             (np.zeros((2, 1, 6), np.float32), h if net.cell.has_cell_state else (h, h))]:
            with pytest.raises((ValueError, TypeError)) as expected:
                net(bad, initial)
            with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
                frozen(bad, initial)


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
