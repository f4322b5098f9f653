"""The public surface: backend registry, streaming state, torch state_dicts, check(), threads, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fusedrnn as fr
from fusedrnn import backends
from torch_oracle import import_torch


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "fusedrnn", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_every_backend_under_test_is_available(backend):
    assert backend.name in backends.available()
    assert backends.why(backend.name) is None


def test_use_backend_selects_for_the_block_only(backend):
    before = backends.current()
    with fr.use_backend(backend.name) as selected:
        assert selected is backend
        assert backends.current() == backend.name
    assert backends.current() == before


def test_unavailable_backend_says_why(monkeypatch):
    monkeypatch.setitem(backends._MODULES, "numba", "fusedrnn.no_such_module")
    monkeypatch.setattr(backends, "_loaded", {})
    assert "numba" not in backends.available()
    assert "No module named 'fusedrnn.no_such_module'" in backends.why("numba")
    with pytest.raises(backends.BackendUnavailable, match=r"backend 'numba' is not available: ModuleNotFoundError"):
        backends.get("numba")


def test_environment_variable_selects_the_backend():
    code = "import fusedrnn as fr; print(fr.backends.current())"
    for name in ("numpy", *backends.available()):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "FUSEDRNN_BACKEND": name}, check=True)
        assert out.stdout.strip() == name


def test_default_backend_is_the_fastest_available():
    if os.environ.get("FUSEDRNN_BACKEND"):
        pytest.fail("unset FUSEDRNN_BACKEND to run the test suite: it decides which backend every test uses")
    assert backends.current() == backends.available()[0]


def test_the_default_backend_is_found_without_importing_slower_ones():
    code = ("import sys, numpy as np, fusedrnn as fr; fr.LSTM(8, 8).forward(np.ones((2, 1, 8), np.float32)); "
            "print(fr.backends.current(), 'numba' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "FUSEDRNN_BACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    current, numba_imported = out.stdout.split()
    assert numba_imported == str(current == "numba")  # imported where it runs, never behind cpp


def test_check_passes_for_every_fast_backend(fast_backend):
    report = fr.check(fast_backend.name)
    assert report.passed, str(report)
    assert {row.cell for row in report} == {"rnn_tanh", "rnn_relu", "lstm", "gru", "gru_reset_before"}
    assert {row.dtype for row in report} == {"float32", "float64"}


def test_check_detects_a_wrong_backend(monkeypatch):
    reference = backends.get("numpy")

    class OffByOne:
        name = "numba"

        def layer_forward(self, *args, **kwargs):
            result = reference.layer_forward(*args, **kwargs)
            result.y[...] *= 1.001
            return result

        def layer_backward(self, *args, **kwargs):
            return reference.layer_backward(*args, **kwargs)

    monkeypatch.setitem(backends._loaded, "numba", OffByOne())
    report = fr.check("numba")
    assert not report.passed
    assert "NO" in str(report)


def test_streaming_in_chunks_equals_one_call(backend, rng):
    model = fr.LSTM(4, 8, num_layers=2, seed=1)
    x = rng.standard_normal((12, 3, 4)).astype(np.float32)
    with fr.use_backend(backend.name):
        y_full, (h_full, c_full) = model(x)
        state, pieces = None, []
        for chunk in np.split(x, [5, 6, 12]):
            y, state = model(chunk, state)
            pieces.append(y)
    np.testing.assert_allclose(np.concatenate(pieces), y_full, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(state[0], h_full, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(state[1], c_full, rtol=1e-6, atol=1e-6)


def test_float64_input_gives_float64_output():
    model = fr.GRU(3, 4, seed=0)
    y, h = model(np.ones((2, 1, 3)))
    assert model.dtype == np.float32 and y.dtype == np.float64 and h.dtype == np.float64


def test_torch_state_dict_loads_as_is():
    torch = import_torch()
    module = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    model = fr.LSTM(3, 5, num_layers=2, bidirectional=True)
    model.load_state_dict(module.state_dict())
    for name, tensor in module.state_dict().items():
        np.testing.assert_array_equal(model.params[name], tensor.numpy())


def test_default_initialisation_is_pytorchs_and_seedable():
    a, b, c = fr.GRU(3, 16, seed=1), fr.GRU(3, 16, seed=1), fr.GRU(3, 16, seed=2)
    assert list(a.params) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert a.params["weight_ih_l0"].shape == (48, 3) and a.params["weight_ih_l0"].dtype == np.float32
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
        assert not np.array_equal(a.params[name], c.params[name])
        assert np.abs(a.params[name]).max() <= 0.25   # U(-1/sqrt(H), 1/sqrt(H)), H = 16


def test_repr_reads_like_torch():
    assert repr(fr.LSTM(3, 5, 2, bidirectional=True)) == "LSTM(3, 5, num_layers=2, bidirectional=True)"
    assert repr(fr.GRU(3, 5, linear_before_reset=False)) == "GRU(3, 5, linear_before_reset=False)"
    assert repr(fr.RNN(3, 5, nonlinearity="relu")) == "RNN(3, 5, nonlinearity=relu)"


def test_thread_setting_round_trips():
    default = fr.get_num_threads()
    try:
        fr.set_num_threads(1)
        assert fr.get_num_threads() == 1
    finally:
        fr.set_num_threads(None)
    assert fr.get_num_threads() == default


@pytest.mark.parametrize("value, expected", [("1", "1"), ("3,2", "3"), (" 2 ", "2"), ("0", "cores"), ("four", "cores")])
def test_omp_num_threads_at_import_sets_the_default(value, expected):
    code = ("import os, fusedrnn as fr; n = fr.get_num_threads(); os.environ['OMP_NUM_THREADS'] = '7'; "
            "print(n, fr.get_num_threads(), len(os.sched_getaffinity(0)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": value})
    at_import, later, cores = out.stdout.split()
    assert at_import == later == (cores if expected == "cores" else expected)  # read once, at import


def test_cli_info_lists_backends_and_the_compiled_core():
    out = run_cli("info", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["fusedrnn"] == fr.__version__
    assert set(info["backends"]) == {"cpp", "numba", "numpy"}
    if "cpp" in backends.available():
        assert info["compiled core"]["simd"] in ("avx512", "avx2+fma", "scalar")
        assert info["compiled core"]["compiler"]


def test_cli_check_prints_a_table_and_fails_on_error():
    out = run_cli("check", "--backend", "numpy")
    assert out.returncode == 0, out.stderr
    assert "40 passed, 0 failed" in out.stdout and "gru_reset_before" in out.stdout


@pytest.mark.parametrize("model_args", [
    dict(cell=fr.LSTM, num_layers=2, bidirectional=True, batch_first=True),
    dict(cell=fr.GRU, num_layers=1, bidirectional=False),
    dict(cell=fr.RNN, num_layers=2, bidirectional=False, dropout=0.5),
], ids=["lstm-2-bidirectional-batch_first", "gru-1", "rnn-2-dropout"])
def test_backward_without_the_input_gradient(backend, model_args):
    """input_grad=False: grads.x is None and every other gradient is the same bits as with it."""
    args = dict(model_args)
    cell = args.pop("cell")
    model = cell(input_size=5, hidden_size=33, seed=3, **args)
    rng = np.random.default_rng(4)
    T, B = 17, 7
    x = rng.standard_normal((B, T, 5) if args.get("batch_first") else (T, B, 5)).astype(np.float32)
    lengths = rng.integers(0, T + 1, B)  # zeros included
    with fr.use_backend(backend.name):
        y, _, tape = model.forward(x, lengths=lengths, train=True, seed=5)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        full = model.backward(tape, dy, clip=fr.Clip(max_norm=0.5, gate_value=0.2))
        partial = model.backward(tape, dy, clip=fr.Clip(max_norm=0.5, gate_value=0.2), input_grad=False)
    assert full.x is not None and full.x.shape == x.shape and partial.x is None
    assert partial.norm == full.norm
    for name, grad in full.params.items():
        assert np.array_equal(partial.params[name], grad), name
    for a, b in zip(np.atleast_1d(partial.state), np.atleast_1d(full.state)):
        assert np.array_equal(a, b)
    with pytest.raises(TypeError, match=r"input_grad: expected True or False, got str"):
        model.backward(tape, dy, input_grad="no")
