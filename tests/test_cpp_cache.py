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


@pytest.mark.parametrize("cell_name", ["lstm", "gru", "gru_reset_before", "rnn_tanh"])
def test_in_place_weight_change_gives_new_results(rng, cell_name):
    cell = cells.CELLS[cell_name]
    cpp, ref = get("cpp"), get("numpy")
    problem = make_problem(rng, cell, 5, 3, 8, 20, np.float32)
    w = problem[0]
    first = run(cpp, cell, problem, reverse=False)  # packs and caches w.w_hh (both layouts)
    again = run(cpp, cell, problem, reverse=False)  # served from the cache
    _same_bits(first, again, "cached")

    w.w_hh[3, 7] += 0.25  # one element, in place: same array, same address
    w.w_hh[-1, :] *= -1.5
    changed = run(cpp, cell, problem, reverse=False)
    fresh = LayerWeights(w.w_ih.copy(), w.w_hh.copy(), w.b_ih.copy(), w.b_hh.copy())
    from_copy = run(cpp, cell, (fresh, *problem[1:]), reverse=False)
    _same_bits(changed, from_copy, "after in-place change")
    expected = run(ref, cell, problem, reverse=False)
    for name in expected:
        assert_close(f"{cell_name} {name}", changed[name], expected[name], np.float32)
    assert not np.array_equal(changed["y"], first["y"])


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
