"""The numba backend's own promises: clear ImportError, configurable cache, warm-up,
thread-count invariance, NaN propagation and the accuracy of its vectorised exp/sigmoid/tanh.
(Its results against the reference are in test_backends_match_reference.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import numba  # noqa: E402  (conftest collects this file only when numba is under test; missing = failure)

from fusedrnn import backends  # noqa: E402
from fusedrnn.cells import CELLS  # noqa: E402
from fusedrnn.threads import get_num_threads, set_num_threads  # noqa: E402
from fusedrnn.types import LayerWeights  # noqa: E402

from tolerance import assert_close  # noqa: E402


def _run(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_without_numba_the_registry_says_why():
    out = _run(
        "import sys; sys.modules['numba'] = None\n"
        "from fusedrnn import backends\n"
        "print('numba' in backends.available()); print(backends.why('numba'))"
    )
    available, reason = out.splitlines()[:2]
    assert available == "False"
    assert "the numba backend needs numba" in reason and "fusedrnn[numba]" in reason


_COMPILE = """
import json, time
import numpy as np
start = time.perf_counter()
from fusedrnn.backends.numba import BACKEND, loops
imported = time.perf_counter() - start
seconds = BACKEND.warmup(dtypes=[np.float64], cells=["rnn_tanh"])
stats = [loops.rnn_forward.stats, loops.rnn_backward.stats]
print(json.dumps({"import": imported, "first_call": seconds["rnn_tanh/float64"],
                  "hits": sum(sum(s.cache_hits.values()) for s in stats),
                  "misses": sum(sum(s.cache_misses.values()) for s in stats)}))
"""


def test_cache_goes_to_numba_cache_dir_and_first_call_is_timed(tmp_path, record_property):
    cache = tmp_path / "numba-cache"
    cold = json.loads(_run(_COMPILE, NUMBA_CACHE_DIR=str(cache)))
    assert cold["misses"] > 0
    assert list(cache.rglob("*rnn_forward*.nbi")), "no index file in NUMBA_CACHE_DIR"
    warm = json.loads(_run(_COMPILE, NUMBA_CACHE_DIR=str(cache)))
    assert warm["misses"] == 0 and warm["hits"] > 0
    # Measured, never asserted: the machine may be busy.
    record_property("numba_first_call_cold_s", round(cold["first_call"], 3))
    record_property("numba_first_call_warm_s", round(warm["first_call"], 3))
    print(f"\nnumba rnn_tanh/float64 first call: cold cache {cold['first_call']:.2f} s, "
          f"warm cache {warm['first_call']:.2f} s (import {warm['import']:.2f} s)")


_WARMUP = """
import json
import numpy as np
from fusedrnn.backends.numba import BACKEND, loops
kernels = [loops.gru_rb_forward, loops.gru_rb_backward]
before = [len(k.signatures) for k in kernels]
seconds = BACKEND.warmup(dtypes=[np.float32], cells=["gru_reset_before"])
dtypes = [sorted({str(a.dtype) for sig in k.signatures for a in sig if hasattr(a, "dtype")}) for k in kernels]
print(json.dumps({"before": before, "keys": list(seconds), "dtypes": dtypes}))
"""


def test_warmup_compiles_every_kernel_of_a_cell_ahead_of_use():
    out = json.loads(_run(_WARMUP))  # a fresh process: nothing compiled or loaded yet
    assert out["before"] == [0, 0]
    assert out["keys"] == ["gru_reset_before/float32"]
    assert out["dtypes"] == [["float32", "int64"]] * 2
    from fusedrnn.backends.numba import BACKEND

    with pytest.raises(TypeError, match="dtypes: expected float32 or float64"):
        BACKEND.warmup(dtypes=[np.int32])
    with pytest.raises(ValueError, match="cells: expected names"):
        BACKEND.warmup(cells=["lstmm"])


def _problem(cell, dtype, rng, T=9, B=48, I=40, H=56):
    G = cell.gates
    r = lambda *shape: (rng.standard_normal(shape) * 0.4).astype(dtype)  # noqa: E731
    weights = LayerWeights(r(G * H, I), r(G * H, H), r(G * H), r(G * H))
    c0 = r(B, H) if cell.has_cell_state else None
    lengths = rng.integers(0, T + 1, B).astype(np.int64)
    return r(T, B, I), r(B, H), c0, weights, lengths, r(T, B, H), r(B, H), (r(B, H) if c0 is not None else None)


def _train_step(backend, cell, problem, reverse):
    x, h0, c0, weights, lengths, dy, dh_n, dc_n = problem
    result = backend.layer_forward(cell, x, h0, c0, weights, lengths, reverse=reverse, train=True)
    grads = backend.layer_backward(cell, result.tape, dy, dh_n, dc_n, clip_gate=0.3, clip_value=2.0)
    arrays = {"y": result.y, "h_n": result.h_n, "c_n": result.c_n}
    arrays.update({k: v for k, v in vars(grads).items() if k != "sqnorm"})
    return {k: v for k, v in arrays.items() if v is not None}, grads.sqnorm


@pytest.mark.parametrize("cell", list(CELLS))
def test_results_do_not_depend_on_the_thread_count(cell, rng, monkeypatch):
    from fusedrnn.backends.numba import product

    monkeypatch.setattr(product, "PARALLEL_MIN_MACS", 0)  # the per-step products run parallel even this small
    backend = backends.get("numba")
    cell = CELLS[cell]
    problem = _problem(cell, np.float32, rng)
    before_numba, before_ours = numba.get_num_threads(), get_num_threads()
    runs = []
    try:
        for n in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(n)
            set_num_threads(n)  # what the backend hands to NumPy's BLAS
            runs.append(_train_step(backend, cell, problem, reverse=True))
    finally:
        numba.set_num_threads(before_numba)
        set_num_threads(None if before_ours == get_num_threads() else before_ours)
    (one, sq_one), (two, sq_two) = runs
    assert sq_one == sq_two
    for name in one:
        np.testing.assert_array_equal(one[name], two[name], err_msg=name)


@pytest.mark.parametrize("shape", [(1600, 768, 256), (256, 1600, 768), (500, 40, 300)])  # (M, K, N)
@pytest.mark.parametrize("transposed", [False, True])
def test_blocked_products_match_numpy_and_each_other_for_any_thread_count(shape, transposed, rng):
    from fusedrnn.backends.numba.gemm import matmul, single_threaded_blas

    M, K, N = shape
    # the weight-gradient products read their first operand as a transposed view
    a = rng.standard_normal((K, M)).astype(np.float32).T if transposed else rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    with single_threaded_blas():
        outs = [matmul(a, b, np.empty((M, N), np.float32), n) for n in (1, 2, 3)]
    assert_close(f"{shape} transposed={transposed}", outs[0], a.astype(np.float64) @ b, np.float32)
    for out in outs[1:]:
        np.testing.assert_array_equal(outs[0], out)


@pytest.mark.parametrize("cell", list(CELLS))
def test_nan_and_inf_propagate_as_in_the_reference(cell, rng):
    cell = CELLS[cell]
    x, h0, c0, weights, lengths, *_ = _problem(cell, np.float64, rng, T=5, B=4, I=3, H=8)
    lengths = np.array([5, 5, 2, 0], np.int64)
    x[1, 0, 0] = np.nan
    x[3, 1, 2] = np.inf
    ours = backends.get("numba").layer_forward(cell, x, h0, c0, weights, lengths, reverse=False, train=False)
    ref = backends.get("numpy").layer_forward(cell, x, h0, c0, weights, lengths, reverse=False, train=False)
    assert np.isnan(ours.y[1:, 0]).all()  # NaN enters at step 1 of row 0 and stays
    assert np.isfinite(ours.y[:, 2:]).all()
    assert_close("y", ours.y, ref.y, np.float64)  # NaN/Inf at the same places, the rest close


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vectorised_exp_sigmoid_tanh_are_accurate(dtype):
    from fusedrnn.backends.numba.mathfn import exp, sigmoid, tanh

    @numba.njit(error_model="numpy")
    def apply(x, out):
        for k in range(x.size):
            out[0, k] = exp(x[k])
            out[1, k] = sigmoid(x[k])
            out[2, k] = tanh(x[k])

    grid = np.concatenate([np.linspace(-80, 80, 20001), np.linspace(-1, 1, 20001), np.geomspace(1e-30, 1, 999)])
    x = np.concatenate([grid, -grid]).astype(dtype)
    out = np.empty((3, x.size), dtype)
    apply(x, out)
    wide = x.astype(np.longdouble)
    with np.errstate(over="ignore"):
        expected = np.stack([np.exp(wide), 1 / (1 + np.exp(-wide)), np.tanh(wide)])
    eps = np.finfo(dtype).eps
    for name, got, want in zip(("exp", "sigmoid", "tanh"), out, expected):
        normal = np.abs(want) > np.finfo(dtype).tiny
        rel = np.abs(got[normal] - want[normal]) / np.abs(want[normal])
        assert rel.max() < 64 * eps, f"{name}: max relative error {rel.max() / eps:.1f} eps"
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e4, -1e4], dtype)
    out = np.empty((3, special.size), dtype)
    apply(special, out)
    with np.errstate(over="ignore"):
        want = np.stack([np.exp(special), 1 / (1 + np.exp(-special)), np.tanh(special)]).astype(dtype)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("lengths", [[4, 1, 4, 0, 3, 1, 2], [4, 4, 4], [0, 2, 0], [0, 0]])
def test_rows_that_have_ended_get_no_product_and_no_once_per_call_rows(lengths, rng):
    """A step's product runs over the rows still running (the others get 0), and the once-per-call
    products over the valid (t, b) pairs' rows t*B + b (valid_rows; None where every pair is)."""
    from fusedrnn.backends.numba.layer import valid_rows
    from fusedrnn.backends.numba.loops import _rows_dot_active

    T, lengths = 4, np.array(lengths, np.int64)
    B = lengths.size
    rows = valid_rows(lengths, T)
    pairs = [t * B + b for t in range(T) for b in range(B) if t < lengths[b]]
    assert rows.tolist() == pairs if len(pairs) < T * B else rows is None
    a, w = rng.standard_normal((B, 6)), rng.standard_normal((5, 6))
    for t in range(T):
        out = np.full((B, 5), np.nan)
        _rows_dot_active(a, w, out, lengths, t, np.empty_like(a), np.empty_like(out), np.empty(B, np.int64))
        running = t < lengths
        assert np.allclose(out[running], a[running] @ w.T, rtol=1e-12, atol=1e-12)
        assert np.all(out[~running] == 0)
