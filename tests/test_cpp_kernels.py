"""The cpp backend's own guarantees: every SIMD path (scalar, AVX2, AVX-512) matches the
reference, results are bitwise identical for any thread count, concurrent calls from Python
threads are safe, and the extension's bounds checks raise ValueError naming the argument."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
from contextlib import contextmanager

import numpy as np
import pytest

from fusedrnn import cells
from fusedrnn.backends import get
from fusedrnn.frozen import _ids as frozen_ids  # every frozen_id once per process, as snapshots take them
from fusedrnn.types import LayerWeights
from tolerance import assert_close

from fusedrnn.backends import cpp as cpp_backend  # noqa: E402  (a failed import is a failure, never a skip)
from fusedrnn import _core  # noqa: E402

CELL_NAMES = list(cells.CELLS)
# Sizes straddling the 16-unit block and the 8-lane vector: 1, 7, 8, 9, 15, 16, 17, 31, 32, 33.
# The last but one: B >= 16 and H >= 64, per-step input tiles (csrc/layer_forward.h fused_input).
SHAPES = [(4, 3, 7, 9), (3, 1, 8, 17), (5, 5, 33, 31), (2, 7, 1, 33), (1, 2, 15, 16), (3, 9, 16, 1), (3, 17, 9, 65),
          (0, 2, 3, 4)]


def make_problem(rng, cell, T, B, I, H, dtype):
    G = cell.gates
    s = 1 / np.sqrt(H)
    w = LayerWeights(*(rng.uniform(-s, s, shape).astype(dtype) for shape in [(G * H, I), (G * H, H), (G * H,), (G * H,)]))
    x = rng.standard_normal((T, B, I)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    c0 = rng.standard_normal((B, H)).astype(dtype) if cell.has_cell_state else None
    lengths = rng.integers(0, T + 1, B).astype(np.int64)
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    dh = rng.standard_normal((B, H)).astype(dtype)
    dc = rng.standard_normal((B, H)).astype(dtype) if cell.has_cell_state else None
    return w, x, h0, c0, lengths, dy, dh, dc


def run_fields(g):
    """A LayerGrads as a dict of arrays, for comparisons."""
    return {"dx": g.dx, "dh0": g.dh0, "dc0": g.dc0, "dw_ih": g.dw_ih, "dw_hh": g.dw_hh, "db_ih": g.db_ih,
            "db_hh": g.db_hh, "sqnorm": np.float64(g.sqnorm)}


def run(backend, cell, problem, reverse, clip_gate=0.0, clip_value=0.0):
    w, x, h0, c0, lengths, dy, dh, dc = problem
    fwd = backend.layer_forward(cell, x, h0, c0, w, lengths, reverse=reverse, train=True)
    inf = backend.layer_forward(cell, x, h0, c0, w, lengths, reverse=reverse, train=False)
    g = backend.layer_backward(cell, fwd.tape, dy, dh, dc, clip_gate=clip_gate, clip_value=clip_value)
    out = {"y": fwd.y, "y_inference": inf.y, "h_n": fwd.h_n, "c_n": fwd.c_n, **run_fields(g)}
    return out


# Every SIMD path the kernels have, widest first. A path needs the CPU's instructions: where this
# CPU lacks them its tests skip and say so (the default path of such a CPU is still tested).
SIMD_PATHS = ["avx512", "avx2+fma", "scalar"]


def need_simd(path):
    if path not in _core.simd_paths():
        pytest.skip(f"this CPU cannot run the {path} kernels (it runs {_core.simd_paths()})")


@pytest.fixture
def simd_path(request):
    need_simd(request.param)
    before = _core.simd_path()
    _core.set_simd_path(request.param)
    try:
        yield request.param
    finally:
        _core.set_simd_path(before)


@pytest.mark.parametrize("simd_path", SIMD_PATHS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_simd_path_matches_reference(simd_path, rng, cell_name, dtype):
    assert _core.simd_path() == simd_path and _core.build_info()["simd"] == simd_path
    cell = cells.CELLS[cell_name]
    ref, cpp = get("numpy"), get("cpp")
    for shape in SHAPES:
        for reverse, clips in ((False, (0.0, 0.0)), (True, (0.05, 0.02))):
            problem = make_problem(rng, cell, *shape, dtype)
            expected = run(ref, cell, problem, reverse, *clips)
            actual = run(cpp, cell, problem, reverse, *clips)
            for name in expected:
                assert_close(f"{simd_path} {cell_name} {shape} reverse={reverse} {name}", actual[name], expected[name],
                             dtype)


def _same_bits(a, b, label):
    for name in a:
        if a[name] is None:
            assert b[name] is None
            continue
        assert np.array_equal(np.atleast_1d(a[name]).view(np.uint8), np.atleast_1d(b[name]).view(np.uint8)), (
            f"{label} {name}: results differ between thread counts"
        )


@contextmanager
def exact_threads(simd):
    """The SIMD path `simd`, and exactly the threads asked for however busy the machine is; restored after."""
    need_simd(simd)
    before, path = cpp_backend.get_num_threads(), _core.simd_path()
    _core.set_simd_path(simd)
    _core.set_load_adaptive(False)
    try:
        yield
    finally:
        cpp_backend.set_num_threads(before)
        _core.set_simd_path(path)
        _core.set_load_adaptive(True)


def run_on_1_2_3_threads(cpp, cell, problem, label, **options):
    """The results on 1 thread, once 2 and 3 threads have given the same bits."""
    results = []
    for n in (1, 2, 3):
        cpp_backend.set_num_threads(n)
        results.append(run(cpp, cell, problem, **options))
    _same_bits(results[0], results[1], f"{label} 1 vs 2")
    _same_bits(results[0], results[2], f"{label} 1 vs 3")
    return results[0]


@pytest.mark.parametrize("simd", SIMD_PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_bitwise_identical_across_thread_counts(rng, cell_name, dtype, simd):
    cell = cells.CELLS[cell_name]
    cpp = get("cpp")
    with exact_threads(simd):
        # The last two are big enough for a multi-thread time loop and blocked BLAS products,
        # the last also for per-step input tiles (B >= 16, H >= 64).
        for shape in [(6, 5, 33, 47), (9, 1, 16, 64), (3, 3, 2, 17), (40, 12, 96, 80), (8, 32, 96, 80)]:
            problem = make_problem(rng, cell, *shape, dtype)
            run_on_1_2_3_threads(cpp, cell, problem, f"{cell_name} {shape}", reverse=shape[1] == 1, clip_gate=0.1,
                                 clip_value=0.05)


@contextmanager
def input_tiles_ahead_always():
    _core.set_input_tiles_ahead_always(True)
    try:
        yield
    finally:
        _core.set_input_tiles_ahead_always(False)


@pytest.mark.parametrize("simd", SIMD_PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_input_tiles_computed_ahead_give_the_same_bits(rng, cell_name, dtype, simd):
    """A forward with per-step input tiles (B >= 16, H >= 64) spends a member's wait at a step's end on
    its blocks' input tiles of the next step (csrc/layer_forward.h). Forced after every step, so that
    tiles computed ahead are read (and at 2-3 threads some finish too late and are skipped), the
    results are the bits of a plain 1-thread call; lengths with zeros, both directions."""
    cell = cells.CELLS[cell_name]
    cpp = get("cpp")
    with exact_threads(simd):
        for shape, reverse in (((8, 32, 96, 80), False), ((7, 19, 33, 65), True)):
            problem = make_problem(rng, cell, *shape, dtype)
            problem[4][3] = 0
            cpp_backend.set_num_threads(1)
            plain = run(cpp, cell, problem, reverse)
            with input_tiles_ahead_always():
                for n in (1, 2, 3):
                    cpp_backend.set_num_threads(n)
                    _same_bits(plain, run(cpp, cell, problem, reverse), f"{cell_name} {shape} ahead, {n} threads")


@pytest.mark.parametrize("simd", SIMD_PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_tiled_input_gradient(rng, cell_name, dtype, simd):
    """G*H >= 1024: dx runs on the tiles, not BLAS, on every SIMD path (csrc/layer_backward.h
    tiled_input_gradient; with AVX-512 at any G*H, as the other tests' shapes check).
    I = 51 is a pair of column blocks (the wide tiles), a single one and a partial one; more than
    96 valid (t, b) pairs make several row chunks (96 rows at most); lengths have a zero."""
    cell = cells.CELLS[cell_name]
    H = -(-1024 // cell.gates) + 1  # 257, 342 or 1025: partial unit blocks too
    ref, cpp = get("numpy"), get("cpp")
    with exact_threads(simd):
        w, x, h0, c0, _, dy, dh, dc = make_problem(rng, cell, 14, 11, 51, H, dtype)
        lengths = rng.integers(10, 15, 11).astype(np.int64)
        lengths[4] = 0
        assert lengths.sum() > 96
        problem = (w, x, h0, c0, lengths, dy, dh, dc)
        for reverse in (False, True):
            expected = run(ref, cell, problem, reverse, clip_gate=0.05)
            actual = run_on_1_2_3_threads(cpp, cell, problem, f"{cell_name} H={H}", reverse=reverse, clip_gate=0.05)
            for name in expected:
                assert_close(f"{cell_name} H={H} reverse={reverse} {name}", actual[name], expected[name], dtype)


@pytest.mark.parametrize("simd", SIMD_PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_weight_gradients_over_several_depth_blocks(rng, cell_name, dtype, simd):
    """The weight gradients on our own tiles (csrc/weight_gradient.h): more valid (t, b) pairs
    than one depth block holds (768), so C carries partial sums from block to block; G*H and I
    that leave partial row tiles and column strips; lengths with frozen rows (the gathered path)."""
    cell = cells.CELLS[cell_name]
    ref, cpp = get("numpy"), get("cpp")
    with exact_threads(simd):
        w, x, h0, c0, _, dy, dh, dc = make_problem(rng, cell, 90, 13, 37, 47, dtype)
        lengths = rng.integers(60, 91, 13).astype(np.int64)
        lengths[3] = 0
        assert lengths.sum() > 768
        problem = (w, x, h0, c0, lengths, dy, dh, dc)
        expected = run(ref, cell, problem, False, clip_value=0.5)
        actual = run_on_1_2_3_threads(cpp, cell, problem, f"{cell_name}", reverse=False, clip_value=0.5)
        for name in expected:
            assert_close(f"{cell_name} {name}", actual[name], expected[name], dtype)


@pytest.mark.parametrize("simd", SIMD_PATHS)
@pytest.mark.parametrize("cell_name, H, dtype", [("lstm", 256, np.float32), ("lstm", 128, np.float64),
                                                 ("gru", 1024, np.float32), ("gru_reset_before", 1024, np.float32),
                                                 ("rnn_tanh", 1024, np.float32)])
def test_gate_gradient_rows_padded(rng, cell_name, H, dtype, simd):
    """G*H*itemsize a multiple of 4 KB: the backward's gate-gradient rows get a padded stride
    (csrc/layer_backward.h gate_grad_stride), read by the tiles, dx and BLAS."""
    cell = cells.CELLS[cell_name]
    assert cell.gates * H * np.dtype(dtype).itemsize % 4096 == 0
    ref, cpp = get("numpy"), get("cpp")
    with exact_threads(simd):
        problem = make_problem(rng, cell, 5, 13, 20, H, dtype)
        expected = run(ref, cell, problem, False, clip_gate=0.05, clip_value=0.02)
        actual = run_on_1_2_3_threads(cpp, cell, problem, f"{cell_name} H={H}", reverse=False, clip_gate=0.05,
                                      clip_value=0.02)
        for name in expected:
            assert_close(f"{cell_name} H={H} {name}", actual[name], expected[name], dtype)


@pytest.mark.parametrize("simd", SIMD_PATHS)
@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_block_input_projection(rng, cell_name, simd):
    """With a time loop on several threads and no per-step input tiles, each unit block's input
    projection is a tile of its own before the loop (csrc/layer_forward.h block_input): batch 1
    and a batch of 6 with lengths that have zeros, and a batch of 20 with panels too large for
    the per-step tiles (I + H > 768 for the RNN and LSTM, 1024 for the GRU); an odd H (a partial
    unit block), both directions."""
    cell = cells.CELLS[cell_name]
    ref, cpp = get("numpy"), get("cpp")
    with exact_threads(simd):
        for T, B, I in [(7, 1, 23), (5, 6, 23), (4, 20, 3200 // cell.gates)]:
            H = int(np.ceil(np.sqrt(2**17 / (B * cell.gates)))) | 1  # B*G*H*H >= 2^17: a loop on 2 threads
            w, x, h0, c0, lengths, dy, dh, dc = make_problem(rng, cell, T, B, I, H, np.float32)
            lengths[0] = T  # more than 2 valid pairs: fewer run in BLAS
            problem = w, x, h0, c0, lengths, dy, dh, dc
            for reverse in (False, True):
                label = f"{cell_name} T={T} B={B} H={H} reverse={reverse}"
                expected = run(ref, cell, problem, reverse, clip_gate=0.05)
                actual = run_on_1_2_3_threads(cpp, cell, problem, label, reverse=reverse, clip_gate=0.05)
                for name in expected:
                    assert_close(f"{label} {name}", actual[name], expected[name], np.float32)


@pytest.mark.parametrize("simd", SIMD_PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell_name", ["gru", "gru_reset_before", "lstm", "rnn_tanh"])
def test_small_batches_run_groups_of_panels(rng, cell_name, dtype, simd):
    """At batch 1 every cell, and at batches of 2 to 4 every cell but the reset-before GRU, runs
    several unit blocks' products at once where the ISA and dtype make a panel few vectors (the
    reset-before GRU in both its phases), in groups from the first block of each thread's slice
    (csrc/layer_forward.h, microkernel.h rows_panels): with H = 257 (17 unit blocks,
    the last of one unit) 1, 2 and 3 threads group the blocks differently, and must give the same
    bits and the reference's results. Odd steps run each thread's groups in reverse and their k
    descending (the zigzag), which must not depend on the thread count either. Lengths 6, 4 and 0
    of T = 6 at batch 1, and at batch 4
    lengths that leave 4, 3, 2 and 1 rows active (steps where rows are frozen), both directions,
    the weights' own calls and a frozen snapshot's."""
    cell = cells.CELLS[cell_name]
    ref, cpp = get("numpy"), get("cpp")
    with exact_threads(simd):
        for row_lengths in ([6], [4], [0], [6, 6, 5, 3], [6, 4, 0, 2]):
            w, x, h0, c0, _, dy, dh, dc = make_problem(rng, cell, 6, len(row_lengths), 33, 257, dtype)
            lengths = np.array(row_lengths, np.int64)
            problem = w, x, h0, c0, lengths, dy, dh, dc
            frozen_w = [np.array(a) for a in (w.w_ih, w.w_hh)]
            for array in frozen_w:
                array.flags.writeable = False
            frozen = LayerWeights(*frozen_w, w.b_ih, w.b_hh, True, next(frozen_ids))
            for reverse in (False, True):
                label = f"{cell_name} lengths={row_lengths} reverse={reverse}"
                expected = run(ref, cell, problem, reverse, clip_gate=0.05)
                actual = run_on_1_2_3_threads(cpp, cell, problem, label, reverse=reverse, clip_gate=0.05)
                for name in expected:
                    assert_close(f"{label} {name}", actual[name], expected[name], dtype)
                snapshots = []
                for n in (1, 2, 3):
                    cpp_backend.set_num_threads(n)
                    got = cpp.layer_forward(cell, x, h0, c0, frozen, lengths, reverse=reverse, train=False)
                    snapshots.append({"y": got.y, "h_n": got.h_n})
                for other in snapshots[1:]:
                    _same_bits(snapshots[0], other, f"{label} frozen")
                for name in ("y", "h_n"):
                    assert_close(f"{label} frozen {name}", snapshots[0][name], expected[name], dtype)


@pytest.mark.parametrize("simd", SIMD_PATHS)
@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_frozen_short_calls_take_the_input_tiles(rng, cell_name, simd):
    """Frozen weights (a frozen_id): calls of one or two valid (t, b) pairs below 16 rows take each
    block's input projection from the cached W_ih packing as well (the weights' own calls take BLAS
    there): batch 1 with T = 1 and 2, and a batch of 6 whose lengths leave two valid pairs."""
    cell = cells.CELLS[cell_name]
    ref, cpp = get("numpy"), get("cpp")
    with exact_threads(simd):
        for T, B, lengths in [(1, 1, [1]), (2, 1, [2]), (2, 6, [0, 1, 0, 0, 1, 0])]:
            H = int(np.ceil(np.sqrt(2**17 / (B * cell.gates)))) | 1  # B*G*H*H >= 2^17: a loop on 2 threads
            w, x, h0, c0, _, _, _, _ = make_problem(rng, cell, T, B, 23, H, np.float32)
            for array in (w.w_ih, w.w_hh):
                array.flags.writeable = False
            frozen = LayerWeights(w.w_ih, w.w_hh, w.b_ih, w.b_hh, True, next(frozen_ids))
            lengths = np.array(lengths, np.int64)
            for reverse in (False, True):
                label = f"{cell_name} T={T} B={B} H={H} reverse={reverse}"
                expected = ref.layer_forward(cell, x, h0, c0, w, lengths, reverse=reverse, train=False)
                results = []
                for n in (1, 2, 3):
                    cpp_backend.set_num_threads(n)
                    for _ in range(2):  # packs W_ih, then takes the cached packing unchecked
                        got = cpp.layer_forward(cell, x, h0, c0, frozen, lengths, reverse=reverse, train=False)
                        results.append({"y": got.y, "h_n": got.h_n, "c_n": got.c_n})
                for other in results[1:]:
                    _same_bits(results[0], other, label)
                for name in ("y", "h_n", "c_n"):
                    if results[0][name] is not None:
                        assert_close(f"{label} {name}", results[0][name], getattr(expected, name), np.float32)


@pytest.mark.parametrize("simd", SIMD_PATHS)
@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_one_step_calls_of_weights_not_frozen(rng, cell_name, simd):
    """One step at batch 1 or 2 (one or two valid pairs), weights not frozen: h_{t-1}·W_hhᵀ comes from
    BLAS on the caller's W_hh, not from the cache's packing (the reset-before GRU keeps the packing).
    Training and inference forward and the backward against the reference, the same bits on 1, 2 and 3
    threads, a W_hh of 512 KB or more (whose product runs on the team) and a small one, and a W_hh
    changed in place between two calls."""
    cell = cells.CELLS[cell_name]
    ref, cpp = get("numpy"), get("cpp")
    with exact_threads(simd):
        big = int(np.ceil(np.sqrt(2**17 / cell.gates)))  # G*H*H float32 >= 512 KB
        for B, lengths, H in [(1, [1], 19), (1, [1], big), (2, [1, 0], big), (2, [1, 1], 33)]:
            problem = list(make_problem(rng, cell, 1, B, 23, H, np.float32))
            problem[4] = np.array(lengths, np.int64)
            for reverse in (False, True):
                label = f"{cell_name} B={B} H={H} lengths={lengths} reverse={reverse}"
                expected = run(ref, cell, problem, reverse)
                actual = run_on_1_2_3_threads(cpp, cell, problem, label, reverse=reverse)
                for name in expected:
                    assert_close(f"{label} {name}", actual[name], expected[name], np.float32)
            problem[0].w_hh[...] *= -0.5  # in place: the next call reads the new values
            expected, actual = run(ref, cell, problem, False), run(cpp, cell, problem, False)
            for name in expected:
                assert_close(f"{cell_name} B={B} H={H} changed W_hh {name}", actual[name], expected[name], np.float32)


@pytest.mark.parametrize("cell_name", ["lstm", "gru_reset_before"])
def test_working_arrays_beyond_a_threads_arena(rng, cell_name):
    """A call's small working arrays come from an arena per thread (csrc/scratch.h); those of a
    batch of 1100 rows in float64 outgrow it (a member's tile results alone are over 256 KB) and
    go to the heap. Both kinds, and small calls before and after on the same threads, give the
    reference's results and the same bits each time."""
    cell = cells.CELLS[cell_name]
    ref, cpp = get("numpy"), get("cpp")
    small = make_problem(rng, cell, 3, 2, 5, 7, np.float64)
    large = make_problem(rng, cell, 2, 1100, 5, 17, np.float64)
    with exact_threads(_core.simd_path()):
        small_first = run(cpp, cell, small, reverse=False, clip_value=0.5)
        expected = run(ref, cell, large, False, clip_value=0.5)
        actual = run_on_1_2_3_threads(cpp, cell, large, cell_name, reverse=False, clip_value=0.5)
        for name in expected:
            assert_close(f"{cell_name} {name}", actual[name], expected[name], np.float64)
        _same_bits(small_first, run(cpp, cell, small, reverse=False, clip_value=0.5), f"{cell_name} small after large")


def test_concurrent_calls_from_python_threads(rng):
    cell = cells.CELLS["lstm"]
    cpp = get("cpp")
    problems = [make_problem(rng, cell, 7, 4, 12, 24, np.float32) for _ in range(4)]
    expected = [run(cpp, cell, p, reverse=False, clip_gate=0.1) for p in problems]
    errors: list[str] = []

    def worker(k):
        try:
            for _ in range(5):
                _same_bits(expected[k], run(cpp, cell, problems[k], reverse=False, clip_gate=0.1), f"thread {k}")
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(str(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def _forward_fields(r):
    # Of the tape only h_{t-1}: the saved gates of frozen rows are never written (nor read).
    return {"y": r.y, "h_n": r.h_n, "c_n": r.c_n, "hprev": None if r.tape is None else r.tape.saved[1]}


@pytest.mark.parametrize("B", [3, 20])  # at once below 16 rows, one after the other from 16 on
@pytest.mark.parametrize("cell_name", ["lstm", "gru_reset_before", "rnn_relu"])
def test_forward_directions_match_one_direction_at_a_time(rng, cell_name, B):
    """CppBackend.forward_directions gives the bits of layer_forward on each direction (reverse
    False, then True), at any thread count, in training and inference."""
    cell = cells.CELLS[cell_name]
    cpp = get("cpp")
    w0, x, h0, c0, lengths, *_ = make_problem(rng, cell, 9, B, 33, 80, np.float32)
    w1, _, h1, c1, *_ = make_problem(rng, cell, 9, B, 33, 80, np.float32)
    h0s, c0s, weights = [h0, h1], [c0, c1], [w0, w1]
    for train in (True, False):
        expected = [_forward_fields(cpp.layer_forward(cell, x, h0s[d], c0s[d], weights[d], lengths, reverse=d == 1,
                                                      train=train)) for d in range(2)]
        with exact_threads(_core.simd_path()):
            for n in (1, 2, 3):
                cpp_backend.set_num_threads(n)
                both = cpp.forward_directions(cell, x, h0s, c0s, weights, lengths, train=train)
                for d in range(2):
                    _same_bits(expected[d], _forward_fields(both[d]), f"{cell_name} B={B} direction {d}, {n} threads")
    # The second direction's error reaches the caller.
    with pytest.raises(ValueError, match=r"_forward_f32\] \w+: expected shape"):
        cpp.forward_directions(cell, x, [h0, h1[:, :-1].copy()], c0s, weights, lengths, train=False)


@pytest.mark.parametrize("cell_name", ["lstm", "gru", "rnn_tanh"])
def test_backward_directions_at_once_match_one_after_the_other(rng, cell_name):
    """CppBackend.backward_directions (both directions of a layer at once, half the threads each)
    gives the bits of layer_backward on each direction, at any thread count."""
    cell = cells.CELLS[cell_name]
    cpp = get("cpp")
    problems = [make_problem(rng, cell, 9, 20, 33, 80, np.float32) for _ in range(2)]
    tapes = [cpp.layer_forward(cell, x, h0, c0, w, lengths, reverse=d == 1, train=True).tape
             for d, (w, x, h0, c0, lengths, *_) in enumerate(problems)]
    dys, dhs, dcs = ([p[k] for p in problems] for k in (5, 6, 7))
    clips = {"clip_gate": 0.1, "clip_value": 0.05}
    expected = [run_fields(cpp.layer_backward(cell, t, dy, dh, dc, **clips)) for t, dy, dh, dc in zip(tapes, dys, dhs, dcs)]
    with exact_threads(_core.simd_path()):
        for n in (1, 2, 3):
            cpp_backend.set_num_threads(n)
            both = cpp.backward_directions(cell, tapes, dys, dhs, dcs, **clips)
            for d in range(2):
                _same_bits(expected[d], run_fields(both[d]), f"{cell_name} direction {d}, {n} threads")
    with pytest.raises(ValueError, match=r"dy: expected shape"):  # the second direction's error reaches the caller
        cpp.backward_directions(cell, tapes, [dys[0], dys[1][:, :, :-1].copy()], dhs, dcs, **clips)


def _lstm_args(T=3, B=2, I=4, H=5, dtype=np.float32):
    z = lambda *s: np.zeros(s, dtype)  # noqa: E731
    return dict(x=z(T, B, I), h0=z(B, H), c0=z(B, H), w_ih=z(4 * H, I), w_hh=z(4 * H, H), b_ih=z(4 * H),
                b_hh=z(4 * H), lengths=np.full(B, T, np.int64), reverse=False, train=True)


@pytest.mark.parametrize(
    "change, pattern",
    [
        pytest.param(dict(h0=np.zeros((2, 6), np.float32)), r"\[lstm_forward_f32\] c0: expected shape \(2, 6\)", id="H-mismatch"),
        pytest.param(dict(w_hh=np.zeros((20, 4), np.float32)), r"w_hh: expected shape \(20, 5\), got \(20, 4\)", id="w_hh"),
        pytest.param(dict(b_ih=np.zeros(19, np.float32)), r"b_ih: expected shape \(20,\)", id="b_ih"),
        pytest.param(dict(x=np.zeros((3, 2, 4), np.float64)), r"x: expected dtype float32, got float64", id="dtype"),
        pytest.param(dict(x=np.zeros((3, 4, 2), np.float32).transpose(0, 2, 1)), r"x: expected a C-contiguous", id="strides"),
        pytest.param(dict(lengths=np.array([3, 4], np.int64)), r"lengths: expected values in \[0, 3\], got 4", id="len-high"),
        pytest.param(dict(lengths=np.array([-1, 2], np.int64)), r"lengths: expected values in \[0, 3\], got -1", id="len-neg"),
        pytest.param(dict(lengths=np.array([1, 2], np.int32)), r"lengths: expected dtype int64", id="len-dtype"),
        pytest.param(dict(c0=None), r"c0: expected an array for LSTM", id="c0-missing"),
        pytest.param(dict(x=np.zeros((3, 2), np.float32)), r"x: expected 3 dimensions", id="x-ndim"),
    ],
)
def test_forward_binding_checks(change, pattern):
    args = {**_lstm_args(), **change}
    with pytest.raises(ValueError, match=pattern):
        _core.lstm_forward_f32(**args)


def test_backward_binding_checks():
    args = _lstm_args()
    y, h_n, c_n, (gates, hprev, extra) = _core.lstm_forward_f32(**args)
    common = dict(x=args["x"], w_ih=args["w_ih"], w_hh=args["w_hh"], lengths=args["lengths"], reverse=False,
                  gates=gates, hprev=hprev, extra=extra, dy=np.zeros_like(y), dh_n=h_n, dc_n=c_n,
                  clip_gate=0.0, clip_value=0.0, bias=True)
    _core.lstm_backward_f32(**common)
    # The saved gates and extras are in the kernels' tile order: H = 5 padded to 16 units.
    assert gates.shape == (3, 2, 4 * 16) and extra.shape == (3, 2, 2, 16) and hprev.shape == (3, 2, 5)
    with pytest.raises(ValueError, match=r"\[lstm_backward_f32\] extra: expected shape \(3, 2, 2, 16\)"):
        _core.lstm_backward_f32(**{**common, "extra": extra[:, :, :1].copy()})
    with pytest.raises(ValueError, match=r"dy: expected shape \(3, 2, 5\)"):
        _core.lstm_backward_f32(**{**common, "dy": np.zeros((3, 2, 4), np.float32)})
    with pytest.raises(ValueError, match=r"clip_gate: expected a number >= 0"):
        _core.lstm_backward_f32(**{**common, "clip_gate": -1.0})
    with pytest.raises(ValueError, match=r"\[gru_backward_f32\] dc_n: expected None"):
        _core.gru_backward_f32(**{**common, "w_ih": np.zeros((15, 4), np.float32), "w_hh": np.zeros((15, 5), np.float32),
                                  "gates": np.zeros((3, 2, 48), np.float32), "extra": np.zeros((3, 2, 1, 16), np.float32)})


def test_info_names_the_blas_kernels_and_follows_openblas_coretype():
    """build_info()["blas_kernels"] is the kernel set OpenBLAS chose: OPENBLAS_CORETYPE (Haswell's
    holds an AVX-512 CPU to AVX2 kernels) shows, in a process of its own (read at load). That part
    needs a CPU that runs Haswell's kernels (x86-64 with AVX2); the name is checked everywhere."""
    kernels = cpp_backend.build_info()["blas_kernels"]
    assert isinstance(kernels, str) and kernels and kernels != "unknown"
    if platform.machine() not in ("x86_64", "AMD64") or "avx2+fma" not in _core.simd_paths():
        return
    code = "from fusedrnn.backends import cpp; print(cpp.build_info()['blas_kernels'])"
    for core in ("Haswell", "Sandybridge"):  # two, so that a fixed answer cannot pass
        env = {**os.environ, "OPENBLAS_CORETYPE": core}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        assert out.strip() == core


def test_thread_setting_and_info():
    before = cpp_backend.get_num_threads()
    try:
        cpp_backend.set_num_threads(1)
        assert cpp_backend.get_num_threads() == 1 and cpp_backend.build_info()["max_threads"] == 1
        with pytest.raises(ValueError, match=r"n: expected an int >= 1"):
            _core.set_num_threads(0)
    finally:
        cpp_backend.set_num_threads(before)
    info = cpp_backend.build_info()
    paths = _core.simd_paths()
    assert paths[-1] == "scalar" and set(paths) <= set(SIMD_PATHS) and info["cpu_simd"] == paths[0]
    assert info["simd"] == _core.simd_path() == path_for(os.environ.get("FUSEDRNN_SIMD"))
    with pytest.raises(ValueError, match=r"path: expected 'auto', 'scalar', 'avx2\+fma' or 'avx512', got 'sse9'"):
        _core.set_simd_path("sse9")
    for path in set(SIMD_PATHS) - set(paths):
        with pytest.raises(ValueError, match=f"path: this CPU cannot run '{path}'"):
            _core.set_simd_path(path)


def path_for(asked):
    """The path FUSEDRNN_SIMD=asked gives: the one named, or the widest this CPU runs below it."""
    order = SIMD_PATHS[SIMD_PATHS.index(asked):] if asked in SIMD_PATHS else SIMD_PATHS
    return next(p for p in order if p in _core.simd_paths())


@pytest.mark.parametrize("asked", SIMD_PATHS + ["auto", "sse9"])
def test_simd_path_from_the_environment(asked):
    """FUSEDRNN_SIMD chooses the path at import: the one named, or the widest this CPU runs below it."""
    expected = path_for(asked)
    code = "from fusedrnn import _core; print(_core.simd_path())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "FUSEDRNN_SIMD": asked},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


@pytest.mark.parametrize("simd", SIMD_PATHS)
def test_squared_norm_of_huge_float32_gradients_is_finite(rng, simd):
    """The weight-gradient tiles sum each lane's squares in float32 (csrc/weight_gradient.h): where
    that overflows (gradients near 1e22, squares near 1e44) the tile is summed again in float64."""
    import fusedrnn as fr

    need_simd(simd)
    model = fr.LSTM(32, 32, dtype=np.float32, seed=3)
    x = rng.standard_normal((6, 4, 32)).astype(np.float32)
    dy = (1e22 * rng.standard_normal((6, 4, 32))).astype(np.float32)
    path = _core.simd_path()
    _core.set_simd_path(simd)
    try:
        with fr.use_backend("cpp"):
            _, _, tape = model.forward(x, train=True)
            grads = model.backward(tape, dy)
    finally:
        _core.set_simd_path(path)
    params = [g.astype(np.float64) for g in grads.params.values()]
    assert all(np.isfinite(g).all() for g in params)
    expected = np.sqrt(sum(np.sum(g**2) for g in params))
    assert 1e20 < expected < 1e30 and grads.norm == pytest.approx(expected, rel=1e-5)
