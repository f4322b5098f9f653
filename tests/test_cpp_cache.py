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

from test_cpp_kernels import make_problem, run, _same_bits


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
