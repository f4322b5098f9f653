"""Every fast backend against the numpy reference on hypothesis-drawn layer problems.

Forward (inference and training) and backward, both dtypes, every cell, both directions,
lengths with zeros, T = 0, bias on/off, clip_gate and clip_value on/off. Tolerance: tolerance.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import layer_problems, make_layer_problem
from tolerance import assert_close

from fusedrnn.cells import CELLS
from fusedrnn.reference import BACKEND as REFERENCE

# The backend fixture is stateless, so sharing it across hypothesis examples is safe.
# derandomize: a fixed example sequence, so a float32 rounding corner cannot make CI flaky.
SETTINGS = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
EVERY_CELL = pytest.mark.parametrize("cell", list(CELLS))  # each cell every run, not left to the draw
FORWARD_NAMES = ("y", "h_n", "c_n")
BACKWARD_NAMES = ("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db_ih", "db_hh", "sqnorm")


def snapshot(problem) -> dict[str, np.ndarray]:
    return {name: a.copy() for name, a in problem.inputs().items()}


def assert_inputs_unchanged(backend, problem, before) -> None:
    for name, a in problem.inputs().items():
        assert np.array_equal(a, before[name], equal_nan=True), f"{backend.name} modified its input {name}"


@EVERY_CELL
@SETTINGS
@given(data=st.data())
def test_forward_matches_reference(fast_backend, cell, data):
    problem = data.draw(layer_problems(cells=(cell,), clipping=False), label="problem")
    before = snapshot(problem)
    for train in (False, True):
        expected = problem.forward(REFERENCE, train=train)
        actual = problem.forward(fast_backend, train=train)
        assert (actual.tape is not None) == train, f"{fast_backend.name}: tape returned iff train"
        for name in FORWARD_NAMES:
            tag = f"{fast_backend.name} {problem.cell.name} train={train} {name}"
            assert_close(tag, getattr(actual, name), getattr(expected, name), problem.dtype)
    assert_inputs_unchanged(fast_backend, problem, before)


@EVERY_CELL
@SETTINGS
@given(data=st.data())
def test_backward_matches_reference(fast_backend, cell, data):
    problem = data.draw(layer_problems(cells=(cell,)), label="problem")
    before = snapshot(problem)
    expected = problem.backward(REFERENCE)
    actual = problem.backward(fast_backend)
    assert isinstance(actual.sqnorm, float), f"sqnorm: expected a Python float, got {type(actual.sqnorm).__name__}"
    for name in BACKWARD_NAMES:
        tag = f"{fast_backend.name} {problem.cell.name} {name}"
        assert_close(tag, getattr(actual, name), getattr(expected, name), problem.dtype)
    assert_inputs_unchanged(fast_backend, problem, before)


# Batches of 16 or more with H >= 64 take the C++ core's other input path (per-step input
# tiles instead of one GEMM, csrc/layer_forward.h fused_input); the drawn problems are smaller.
@EVERY_CELL
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
def test_large_batches_match_reference(fast_backend, cell, dtype, reverse):
    lengths = [5, 0, 3, 5, 1, 4, 5, 2, 5, 5, 3, 0, 5, 4, 5, 1, 2]  # B = 17, zeros and full ones
    for lens in (None, lengths):
        problem = make_layer_problem(cell, 5, 17, 9, 65, dtype=dtype, reverse=reverse, lengths=lens,
                                     clip_gate=0.05, clip_value=0.1, seed=len(cell) + reverse)
        before = snapshot(problem)
        for train in (False, True):
            expected, actual = problem.forward(REFERENCE, train=train), problem.forward(fast_backend, train=train)
            for name in FORWARD_NAMES:
                tag = f"{fast_backend.name} {cell} lengths={lens is not None} train={train} {name}"
                assert_close(tag, getattr(actual, name), getattr(expected, name), dtype)
        expected, actual = problem.backward(REFERENCE), problem.backward(fast_backend)
        for name in BACKWARD_NAMES:
            assert_close(f"{fast_backend.name} {cell} lengths={lens is not None} {name}",
                         getattr(actual, name), getattr(expected, name), dtype)
        assert_inputs_unchanged(fast_backend, problem, before)


@EVERY_CELL
@pytest.mark.parametrize("reverse", [False, True])
def test_what_x_and_dy_hold_past_each_end_changes_nothing(backend, cell, reverse):
    """As with a packed sequence, x and dy past a sequence's end are never read: NaN there gives the
    same bits as zeros, in every output and gradient (dx there is 0)."""
    lengths = np.array([5, 0, 3, 5, 1, 4, 2], np.int64)
    base = make_layer_problem(cell, 5, 7, 9, 17, lengths=lengths, clip_gate=0.05, clip_value=0.1, seed=3 + reverse,
                              reverse=reverse)
    past = np.arange(5)[:, None] >= lengths[None, :]  # [T, B]
    results = []
    for fill in (0.0, np.nan):
        problem = dataclasses.replace(base, x=np.where(past[:, :, None], fill, base.x),
                                      dy=np.where(past[:, :, None], fill, base.dy))
        forward, grads = problem.forward(backend, train=False), problem.backward(backend)
        results.append([getattr(forward, name) for name in FORWARD_NAMES] +
                       [getattr(grads, name) for name in BACKWARD_NAMES])
    for name, zeros, nans in zip(FORWARD_NAMES + BACKWARD_NAMES, *results):
        assert np.array_equal(zeros, nans), f"{backend.name} {cell} reverse={reverse} {name}: NaN past the ends leaked in"
    assert not np.any(results[1][FORWARD_NAMES.index("y")][past]), "y past each end: expected zeros"


@EVERY_CELL
@settings(SETTINGS, max_examples=10)
@given(data=st.data())
def test_inference_and_training_forward_agree(backend, cell, data):
    problem = data.draw(layer_problems(cells=(cell,), clipping=False), label="problem")
    inference = problem.forward(backend, train=False)
    training = problem.forward(backend, train=True)
    assert inference.tape is None and training.tape is not None
    for name in FORWARD_NAMES:
        tag = f"{backend.name} {problem.cell.name} {name} (inference vs training)"
        assert_close(tag, getattr(inference, name), getattr(training, name), problem.dtype)
