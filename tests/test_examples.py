"""The programs in examples/ keep working: each main() runs in-process with tiny settings and must learn.

They run on the default backend (FUSEDRNN_BACKEND selects another); settings are small enough
for the numpy reference too.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))   # as when a script runs: its folder holds its shared modules (adam.py)


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses and pickling look modules up here
    spec.loader.exec_module(module)
    return module


char_lstm = load_example("char_lstm")
forecast_gru = load_example("forecast_gru")


@pytest.fixture(autouse=True)
def single_threaded_blas():
    # The examples' matrices are tiny: on a busy machine a threaded BLAS makes them many times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def run(main, argv):
    out = io.StringIO()
    with redirect_stdout(out):
        result = main(argv)
    return result, out.getvalue()


def test_char_lstm_learns_and_samples_from_its_vocabulary():
    argv = ["--steps", "80", "--hidden", "32", "--seq-len", "16", "--batch", "8", "--lr", "1e-2",
            "--sample-length", "57", "--prime", "Beautiful", "--seed", "3"]
    result, printed = run(char_lstm.main, argv)
    losses = result["losses"]
    assert len(losses) == 80 and np.all(np.isfinite(losses))
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < first - 0.5, f"loss fell from {first:.3f} to {last:.3f} only"
    zen = char_lstm.load_text("zen")
    assert zen.startswith("The Zen of Python, by Tim Peters") and "Beautiful is better than ugly." in zen
    assert result["vocab"] == "".join(sorted(set(zen)))
    assert len(result["sample"]) == 57
    assert set(result["sample"]) <= set(result["vocab"])
    assert "Beautiful" + result["sample"] in printed
    assert "step    80  loss" in printed


def test_char_lstm_head_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    T, B, H, V = 3, 2, 5, 7
    W, b, y = rng.standard_normal((V, H)), rng.standard_normal(V), rng.standard_normal((T, B, H))
    targets = rng.integers(0, V, (T, B))

    def loss(W, b, y):
        return char_lstm.cross_entropy(char_lstm.head_forward(W, b, y), targets)[0]

    _, dlogits = char_lstm.cross_entropy(char_lstm.head_forward(W, b, y), targets)
    dy, dW, db = char_lstm.head_backward(W, y, dlogits)
    eps = 1e-6
    for analytic, array in ((dW, W), (db, b), (dy, y)):
        numeric = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            saved = array[i]
            array[i] = saved + eps
            up = loss(W, b, y)
            array[i] = saved - eps
            down = loss(W, b, y)
            array[i] = saved
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_char_lstm_rejects_a_prime_outside_the_vocabulary_before_training():
    with pytest.raises(ValueError, match="prime: expected characters of the training text, got 'caf\u00e9'"):
        with redirect_stdout(printed := io.StringIO()):
            char_lstm.main(["--steps", "1", "--hidden", "4", "--prime", "caf\u00e9"])
    assert printed.getvalue() == ""


def test_forecast_windows_are_padded_after_their_length():
    series = np.arange(100, dtype=np.float32)
    x, target, last = forecast_gru.windows(series, np.array([10, 50]), np.array([3, 5]), T=6)
    assert x.shape == (6, 2, 1)
    np.testing.assert_array_equal(x[:, 0, 0], [10, 11, 12, 0, 0, 0])
    np.testing.assert_array_equal(x[:, 1, 0], [50, 51, 52, 53, 54, 0])
    np.testing.assert_array_equal(target, [13, 55])
    np.testing.assert_array_equal(last, [12, 54])


def test_forecast_gru_beats_the_last_value_baseline():
    argv = ["--steps", "80", "--hidden", "16", "--window", "24", "--min-window", "4", "--batch", "16",
            "--length", "1000", "--seed", "1"]
    result, printed = run(forecast_gru.main, argv)
    losses = result["losses"]
    assert len(losses) == 80 and np.all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert result["test_mse"] < 0.75 * result["naive_mse"], result
    assert f"GRU {result['test_mse']:.4f}, naive last value {result['naive_mse']:.4f}" in printed
