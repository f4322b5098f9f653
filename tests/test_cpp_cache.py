"""The cpp backend's reuse across calls: packed recurrent weights are cached per array, and a
change of the array's contents in place (an optimizer step) must give the new results;
buffers handed to NumPy come from a pool and must stay valid and independent."""

from __future__ import annotations

import numpy as np

import fusedrnn as fr
import pytest

from fusedrnn import cells
from fusedrnn.backends import get
from fusedrnn.types import LayerWeights
from tolerance import assert_close

from fusedrnn import _core  # noqa: E402  (a failed import is a failure, never a skip)
from fusedrnn.backends import cpp as cpp_backend  # noqa: E402

from test_cpp_kernels import exact_threads, frozen_ids, make_problem, run, _same_bits
from test_frozen import _same


# (T, B, I, H): W_ih projected before the loop by BLAS; by one tile per unit block (B below 16,
# B*G*H*H from 2^17: csrc/layer_forward.h block_input); per step (B = 16: fused_input, but not
# for the reset-before GRU). Where a tile runs the projection, W_ih's packing is cached too.
@pytest.mark.parametrize("shape", [(5, 3, 8, 20), (4, 2, 8, 211), (3, 16, 8, 65)])
@pytest.mark.parametrize("cell_name", ["lstm", "gru", "gru_reset_before", "rnn_tanh"])
def test_in_place_weight_change_gives_new_results(rng, cell_name, shape):
    cell = cells.CELLS[cell_name]
    cpp, ref = get("cpp"), get("numpy")
    problem = make_problem(rng, cell, *shape, np.float32)
    w = problem[0]
    first = run(cpp, cell, problem, reverse=False)  # packs and caches the weights (every layout)
    again = run(cpp, cell, problem, reverse=False)  # served from the cache
    _same_bits(first, again, "cached")

    def check(label):
        """Results as from fresh copies of the weights, and as the reference's."""
        got = run(cpp, cell, problem, reverse=False)
        fresh = LayerWeights(w.w_ih.copy(), w.w_hh.copy(), w.b_ih.copy(), w.b_hh.copy())
        _same_bits(got, run(cpp, cell, (fresh, *problem[1:]), reverse=False), label)
        expected = run(ref, cell, problem, reverse=False)
        for name in expected:
            assert_close(f"{cell_name} {shape} {label} {name}", got[name], expected[name], np.float32)
        return got

    w.w_hh[3, 7] += 0.25  # one element, in place: same array, same address
    w.w_hh[-1, :] *= -1.5  # the last unit block's rows only
    changed = check("after an in-place change of w_hh")
    assert not np.array_equal(changed["y"], first["y"])
    w.w_ih[-1, -1] += 0.5  # w_ih alone, one element of the last unit block
    changed_x = check("after an in-place change of w_ih")
    assert not np.array_equal(changed_x["y"], changed["y"])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_in_place_change_of_a_large_weight_is_seen_on_any_team(rng, threads):
    """From 512 KB on, a weight's bytes are compared with the cache's copy in 64 KB pieces over the
    team (csrc/weight_cache.cpp): a change confined to the first piece, one in the middle or the
    last must each give new results, on one thread and on several."""
    cell = cells.CELLS["lstm"]
    cpp = get("cpp")
    problem = make_problem(rng, cell, 2, 1, 8, 230, np.float32)  # W_hh 920 x 230 floats: 846 KB, 14 pieces
    w = problem[0]
    assert w.w_hh.nbytes > 512 * 1024
    with exact_threads(_core.simd_path()):
        cpp_backend.set_num_threads(threads)
        previous = run(cpp, cell, problem, reverse=False)
        for flat in (5, w.w_hh.size // 2 + 3, w.w_hh.size - 1):  # first piece, a middle one, the last
            w.w_hh.flat[flat] += 0.75
            got = run(cpp, cell, problem, reverse=False)
            fresh = LayerWeights(w.w_ih.copy(), w.w_hh.copy(), w.b_ih.copy(), w.b_hh.copy())
            _same_bits(got, run(cpp, cell, (fresh, *problem[1:]), reverse=False), f"element {flat} changed")
            assert not np.array_equal(got["y"], previous["y"]), f"element {flat}: results did not change"
            previous = got


def test_pooled_outputs_are_independent_and_released(rng):
    cell = cells.CELLS["lstm"]
    cpp = get("cpp")
    problem = make_problem(rng, cell, 40, 8, 64, 64, np.float32)  # outputs above the pool's small-block size
    a = run(cpp, cell, problem, reverse=False)
    snapshot = {k: None if v is None else np.copy(v) for k, v in a.items()}
    b = run(cpp, cell, problem, reverse=False)  # must not reuse memory a still holds
    for arr in b.values():
        if isinstance(arr, np.ndarray) and arr.size > 1:
            arr[...] = np.nan
    _same_bits(a, snapshot, "first results after a second call")
    del a, b
    assert _core.cached_bytes() > 0
    assert _core.release_memory() > 0 and _core.cached_bytes() == 0
    _same_bits(run(cpp, cell, problem, reverse=False), snapshot, "after release_memory")


def test_public_release_memory_frees_the_cpp_caches(rng):
    cell = cells.CELLS["gru"]
    problem = make_problem(rng, cell, 20, 4, 32, 48, np.float64)
    before = run(get("cpp"), cell, problem, reverse=True)
    assert fr.release_memory() > 0 and _core.cached_bytes() == 0
    _same_bits(run(get("cpp"), cell, problem, reverse=True), before, "after fr.release_memory")


# ---- packings dropped with their arrays (backends/cpp_packings.py) --------------------------------

def _train_and_infer(model, x):
    with fr.use_backend("cpp"):
        y, _, tape = model.forward(x, train=True)
        model.backward(tape, np.ones_like(y))
        model.frozen()(x)


def test_a_dead_models_packings_are_dropped(rng):
    _core.release_memory()
    x = rng.standard_normal((6, 3, 32)).astype(np.float32)
    model = fr.LSTM(32, 48, seed=1, num_layers=2, bidirectional=True)
    _train_and_infer(model, x)  # its snapshot dies at once, so its packings go at once too
    kept = _core.packed_entries()
    assert kept > 0
    other = fr.GRU(32, 48, seed=2)
    _train_and_infer(other, x)
    assert _core.packed_entries() > kept
    del other
    assert _core.packed_entries() == kept  # the live model's stay
    del model
    assert _core.packed_entries() == 0


def test_views_are_watched_through_the_array_they_view(rng):
    _core.release_memory()
    cell = cells.CELLS["lstm"]
    G, H, I = cell.gates, 40, 24
    storage = rng.standard_normal((G * H * (I + H) + 2 * G * H,)).astype(np.float32)
    w_ih = storage[: G * H * I].reshape(G * H, I)
    w_hh = storage[G * H * I: G * H * (I + H)].reshape(G * H, H)
    bias = storage[G * H * (I + H):].reshape(2, G * H)
    x = rng.standard_normal((5, 2, I)).astype(np.float32)
    h0 = np.zeros((2, H), np.float32)
    lengths = np.full(2, 5, np.int64)

    def call():  # fresh views every call, as a caller slicing one buffer does
        weights = LayerWeights(w_ih.view(), w_hh.view(), bias[0].view(), bias[1].view(), True, 0)
        return get("cpp").layer_forward(cell, x, h0, h0, weights, lengths, reverse=False, train=False).y

    first = call()
    entries = _core.packed_entries()
    assert entries > 0
    stores = _core.packed_stores()
    _same_bits({"y": call()}, {"y": first}, "from the cached packing")
    assert _core.packed_stores() == stores and _core.packed_entries() == entries  # the views' deaths drop nothing
    del w_ih, w_hh, bias, storage
    assert _core.packed_entries() == 0


def test_calls_that_find_their_packings_cached_never_call_the_watcher(monkeypatch, rng):
    _core.release_memory()
    seen = []
    watcher = _core.packing_watcher
    monkeypatch.setattr(_core, "packing_watcher", lambda *arrays: (seen.append(len(arrays)), watcher(*arrays)))
    model = fr.RNN(16, 64, seed=3)
    x = rng.standard_normal((4, 2, 16)).astype(np.float32)
    with fr.use_backend("cpp"):
        model(x)
        assert seen == [2]  # W_ih and W_hh, after the call that packed them
        model(x)
        model(x)
    assert seen == [2]


# ---- frozen weights (fr.FrozenNetwork): cached packings used without comparing bytes ----------

def test_an_array_made_writeable_again_is_checked_again(rng):
    """Someone who turns a snapshot's array writeable and changes it gets results of the new values."""
    net = fr.LSTM(12, 200, seed=7)
    frozen = net.frozen()
    x = rng.standard_normal((5, 1, 12)).astype(np.float32)
    with fr.use_backend("cpp"):
        frozen(x)  # packs and caches the snapshot's weights
        w = frozen._net.params["weight_hh_l0"]
        w.flags.writeable = True
        w *= -1.0
        net.load_state_dict(frozen.state_dict())
        _same(frozen(x)[0], net(x)[0], "after the change")


def test_frozen_calls_skip_the_cpp_check(monkeypatch, rng):
    """The cpp kernels get the snapshot's id as frozen_id from a snapshot, 0 from the network itself."""
    seen = []
    real = cpp_backend._kernel

    def spy(cell, direction, dtype):
        kernel = real(cell, direction, dtype)
        return lambda *args: seen.append(args[-1]) or kernel(*args)

    monkeypatch.setattr(cpp_backend, "_kernel", spy)
    net = fr.GRU(6, 20, num_layers=2, seed=8)
    x = rng.standard_normal((3, 2, 6)).astype(np.float32)
    with fr.use_backend("cpp"):
        one, two = net.frozen(), net.frozen()
        one(x)
        two(x)
        assert seen[0] == seen[1] == one._id != 0 and seen[2] == seen[3] == two._id != one._id
        seen.clear()
        net(x)
        assert seen == [0, 0]
        seen.clear()
        one(x.astype(np.float64))  # cast copies of the weights: checked
        assert seen == [0, 0]


def test_frozen_id_uses_the_cached_packing_unchecked(rng):
    """The kernels' side: under the same frozen_id the packing cached for the arrays is used as it is,
    so a change behind the id's back is not seen (hence read-only arrays, and an id per snapshot);
    another id, as a new snapshot whose arrays landed at the same addresses would have, or none,
    sees it."""
    cell = cells.CELLS["lstm"]
    w, x, h0, c0, lengths, *_ = make_problem(rng, cell, 4, 2, 8, 20, np.float32)
    w_ih, w_hh = w.w_ih, w.w_hh
    args = lambda frozen_id: (x, h0, c0, w_ih, w_hh, w.b_ih, w.b_hh, np.full(2, 4, np.int64), False, False, 1,
                              frozen_id)
    w_ih.flags.writeable = w_hh.flags.writeable = False
    one, other = next(frozen_ids), next(frozen_ids)  # ids no snapshot of this process has
    first = _core.lstm_forward_f32(*args(one))[0].copy()
    w_hh.flags.writeable = True
    w_hh *= -1.0
    w_hh.flags.writeable = False
    assert np.array_equal(_core.lstm_forward_f32(*args(one))[0], first)  # the stale packing, by contract
    fresh = _core.lstm_forward_f32(*args(other))[0].copy()  # another snapshot's id: packed anew
    assert not np.array_equal(fresh, first)
    assert np.array_equal(_core.lstm_forward_f32(*args(0))[0], fresh)  # checked: the same bits
    assert np.array_equal(_core.lstm_forward_f32(*args(other))[0], fresh)


def test_snapshots_of_different_weights_each_give_their_own_results(rng):
    net = fr.LSTM(16, 200, seed=9)
    x = rng.standard_normal((5, 1, 16)).astype(np.float32)
    with fr.use_backend("cpp"):
        before, expected_before = net.frozen(), net(x)[0]
        net.params["weight_hh_l0"] *= -1.0
        after, expected_after = net.frozen(), net(x)[0]
        for _ in range(2):
            _same(before(x)[0], expected_before, "the first snapshot")
            _same(after(x)[0], expected_after, "the second snapshot")
        del before
        again = net.frozen()  # may well reuse the dead snapshot's addresses
        _same(again(x)[0], expected_after, "a snapshot after one died")


def test_frozen_id_needs_read_only_arrays_owning_their_data(rng):
    cell = cells.CELLS["gru"]
    w, x, h0, _, lengths, *_ = make_problem(rng, cell, 3, 2, 5, 6, np.float32)
    L = np.full(2, 3, np.int64)
    with pytest.raises(ValueError, match=r"\[gru_forward_f32\] w_ih: expected a read-only array .* got a writeable array"):
        _core.gru_forward_f32(x, h0, None, w.w_ih, w.w_hh, w.b_ih, w.b_hh, L, False, False, 1, 1)
    w_ih = w.w_ih.copy()
    w_ih.flags.writeable = False
    view = w.w_hh.view()
    view.flags.writeable = False  # its base stays writeable
    with pytest.raises(ValueError, match=r"w_hh: expected a read-only array owning its data .* got a view"):
        _core.gru_forward_f32(x, h0, None, w_ih, view, w.b_ih, w.b_hh, L, False, False, 1, 1)
