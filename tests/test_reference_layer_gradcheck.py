"""The numpy reference layer against the math: finite differences in float64, and the clip modes' definitions."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import directional_derivative, numerical_grad
from strategies import make_layer_problem
from tolerance import assert_close

from fusedrnn.cells import CELLS
from fusedrnn.reference import BACKEND
from fusedrnn.reference.layer import bptt

CELL_NAMES = list(CELLS)
GRAD_NAMES = ("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db_ih", "db_hh")
FD_TOL = 1e-6  # central differences with eps = 1e-6 in float64 are good to ~1e-9 here


def loss(problem) -> float:
    """sum(y*dy) + sum(h_n*dh_n) (+ sum(c_n*dc_n)): its gradient w.r.t. the outputs is (dy, dh_n, dc_n)."""
    result = problem.forward(BACKEND, train=False)
    value = np.sum(result.y * problem.dy) + np.sum(result.h_n * problem.dh_n)
    if result.c_n is not None:
        value += np.sum(result.c_n * problem.dc_n)
    return float(value)


def differentiable(problem) -> dict[str, np.ndarray]:
    """Gradient name -> the input array it differentiates."""
    w = problem.weights
    arrays = dict(dx=problem.x, dh0=problem.h0, dc0=problem.c0, dw_ih=w.w_ih, dw_hh=w.w_hh, db_ih=w.b_ih, db_hh=w.b_hh)
    return {name: a for name, a in arrays.items() if a is not None}


def grads_dict(grads) -> dict[str, np.ndarray]:
    return {name: getattr(grads, name) for name in GRAD_NAMES}


# (T, B, lengths): full sequences, partial lengths with zeros, the edges T = 1 and T = 0.
SCENARIOS = {
    "full": (3, 2, None),
    "lengths": (4, 3, [4, 0, 2]),
    "T1": (1, 2, [1, 0]),
    "T0": (0, 2, None),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_every_gradient_matches_finite_differences(cell, reverse, scenario):
    T, B, lengths = SCENARIOS[scenario]
    seed = CELL_NAMES.index(cell) + 10 * list(SCENARIOS).index(scenario)
    problem = make_layer_problem(cell, T, B, 3, 2, reverse=reverse, lengths=lengths, seed=seed)
    grads = grads_dict(problem.backward(BACKEND))
    for name, array in differentiable(problem).items():
        expected = numerical_grad(lambda: loss(problem), array)
        assert_close(f"{cell} {scenario} {name}", grads[name], expected, np.float64, tol=FD_TOL)
    if problem.c0 is None:
        assert grads["dc0"] is None


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_random_direction_on_medium_shapes(cell, reverse):
    problem = make_layer_problem(cell, 7, 5, 9, 17, reverse=reverse, lengths=[7, 3, 0, 6, 7], seed=7)
    grads = grads_dict(problem.backward(BACKEND))
    arrays = differentiable(problem)
    rng = np.random.default_rng(11)
    directions = {name: rng.standard_normal(a.shape) for name, a in arrays.items()}
    expected = directional_derivative(lambda: loss(problem), list(arrays.values()), list(directions.values()))
    actual = sum(float(np.sum(grads[name] * directions[name])) for name in arrays)
    assert abs(actual - expected) <= FD_TOL * abs(expected), f"{cell}: <g, v> = {actual!r}, differences {expected!r}"


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_frozen_steps_give_zero_output_zero_dx_and_pass_dh_through(cell):
    problem = make_layer_problem(cell, 4, 2, 3, 5, lengths=[0, 2], seed=3)
    result = problem.forward(BACKEND, train=False)
    grads = problem.backward(BACKEND)
    assert not result.y[2:, 1].any() and not result.y[:, 0].any()
    assert not grads.dx[2:, 1].any() and not grads.dx[:, 0].any()
    # Row 0 never steps: its state and its gradients pass through untouched.
    np.testing.assert_array_equal(result.h_n[0], problem.h0[0])
    np.testing.assert_array_equal(grads.dh0[0], problem.dh_n[0])
    if problem.c0 is not None:
        np.testing.assert_array_equal(result.c_n[0], problem.c0[0])
        np.testing.assert_array_equal(grads.dc0[0], problem.dc_n[0])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_clip_value_clamps_each_parameter_gradient_and_sqnorm_sums_their_squares(cell, bias):
    problem = make_layer_problem(cell, 5, 3, 4, 6, lengths=[5, 2, 4], bias=bias, seed=5)
    free = problem.backward(BACKEND)
    limit = float(np.median(np.abs(free.dw_hh)))
    clipped = problem.backward(BACKEND, clip_value=limit)
    for name in ("dw_ih", "dw_hh", "db_ih", "db_hh"):
        np.testing.assert_array_equal(getattr(clipped, name), np.clip(getattr(free, name), -limit, limit), err_msg=name)
    for name in ("dx", "dh0", "dc0"):  # not parameters: never clipped by value
        np.testing.assert_array_equal(getattr(clipped, name), getattr(free, name), err_msg=name)
    assert np.abs(clipped.dw_hh).max() == limit
    for grads in (free, clipped):
        counted = [grads.dw_ih, grads.dw_hh] + ([grads.db_ih, grads.db_hh] if bias else [])
        expected = sum(float(np.sum(g**2)) for g in counted)
        assert isinstance(grads.sqnorm, float)
        assert grads.sqnorm == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_huge_clip_gate_changes_nothing(cell, dtype):
    problem = make_layer_problem(cell, 5, 3, 4, 6, dtype=dtype, reverse=True, lengths=[5, 0, 3], seed=9)
    free = grads_dict(problem.backward(BACKEND))
    huge = grads_dict(problem.backward(BACKEND, clip_gate=1e30))
    for name in GRAD_NAMES:
        np.testing.assert_array_equal(huge[name], free[name], err_msg=name)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_clip_gate_with_one_step_clamps_db_ih_and_dx_follows(cell):
    # With T = 1 and B = 1, db_ih is the gate gradient da itself and dx = da @ w_ih.
    problem = make_layer_problem(cell, 1, 1, 5, 6, seed=13)
    free = problem.backward(BACKEND)
    limit = 0.5 * float(np.abs(free.db_ih).max())
    clipped = problem.backward(BACKEND, clip_gate=limit)
    H = problem.h0.shape[1]
    # GRU: da_r is formed from the clamped da_n (the clamp sits where each gradient is formed),
    # so only the z and n blocks are the plain clamp of the unclipped ones.
    blocks = slice(H, None) if cell.startswith("gru") else slice(None)
    np.testing.assert_array_equal(clipped.db_ih[blocks], np.clip(free.db_ih[blocks], -limit, limit))
    assert np.abs(clipped.db_ih).max() <= limit and np.abs(clipped.db_ih).max() == limit
    np.testing.assert_allclose(clipped.dx[0, 0], clipped.db_ih @ problem.weights.w_ih, rtol=1e-12)
    np.testing.assert_allclose(clipped.dw_ih, np.outer(clipped.db_ih, problem.x[0, 0]), rtol=1e-12)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_clip_gate_bounds_every_step_and_changes_what_flows_back_in_time(cell):
    problem = make_layer_problem(cell, 6, 3, 4, 5, lengths=[6, 4, 0], seed=17)
    tape = problem.forward(BACKEND, train=True).tape
    free_dxw, _, _, _ = bptt(problem.cell, tape, problem.dy, problem.dh_n, problem.dc_n, 0.0)
    limit = 0.3 * float(np.abs(free_dxw).max())
    dxw, dhw, _, _ = bptt(problem.cell, tape, problem.dy, problem.dh_n, problem.dc_n, limit)
    assert np.abs(dxw).max() == limit, "no gate gradient reached the bound: the test would prove nothing"
    assert np.abs(dhw).max() <= limit
    assert not np.allclose(dxw, free_dxw)
    free = problem.backward(BACKEND)
    clipped = problem.backward(BACKEND, clip_gate=limit)
    for name in ("dh0", "dw_hh", "dx"):
        assert not np.allclose(getattr(clipped, name), getattr(free, name)), f"{name}: unchanged by clip_gate"
    np.testing.assert_array_equal(clipped.dh0[2], problem.dh_n[2])  # an empty row still passes dh through


def test_inference_and_training_forward_are_identical():
    for cell in CELL_NAMES:
        problem = make_layer_problem(cell, 5, 3, 4, 6, dtype=np.float32, reverse=True, lengths=[5, 1, 0], seed=1)
        inference = problem.forward(BACKEND, train=False)
        training = problem.forward(BACKEND, train=True)
        assert inference.tape is None and training.tape is not None
        for name in ("y", "h_n", "c_n"):
            a, b = getattr(inference, name), getattr(training, name)
            assert (a is None and b is None) or np.array_equal(a, b), f"{cell} {name}"


def test_outputs_do_not_alias_the_inputs():
    problem = make_layer_problem("lstm", 0, 2, 3, 4)  # T = 0: h_n is h0's value, never h0 itself
    result = problem.forward(BACKEND, train=True)
    assert not np.shares_memory(result.h_n, problem.h0) and not np.shares_memory(result.c_n, problem.c0)
    grads = problem.backward(BACKEND)
    assert not np.shares_memory(grads.dh0, problem.dh_n) and not np.shares_memory(grads.dc0, problem.dc_n)
    assert grads.dx.shape == (0, 2, 3) and not grads.dw_ih.any() and not grads.db_hh.any()


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_nan_and_inf_propagate_within_their_row_without_raising(cell):
    problem = make_layer_problem(cell, 4, 3, 3, 5, lengths=[4, 4, 2], seed=2)
    problem.x[1, 0, 0] = np.nan
    problem.x[2, 1, :] = np.inf
    result = problem.forward(BACKEND, train=False)  # numpy warnings are errors under the test settings
    grads = problem.backward(BACKEND)
    assert np.isnan(result.y[1:, 0]).all() and np.isfinite(result.y[:1, 0]).all()
    assert not np.isfinite(result.y[2:, 1]).all() and np.isfinite(result.y[:2, 1]).all()
    assert np.isfinite(result.y[:, 2]).all() and np.isfinite(result.h_n[2]).all()
    assert np.isnan(grads.dw_ih).any() and np.isnan(grads.dw_hh).any() and np.isnan(grads.sqnorm)
