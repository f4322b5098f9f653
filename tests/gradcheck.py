"""Central finite differences in float64: what the reference's gradients are checked against."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """df/dx element by element. f() must read x, which is perturbed in place and restored."""
    assert x.dtype == np.float64, f"x: expected float64, got {x.dtype}"
    grad = np.zeros_like(x)
    flat = x.reshape(-1)  # a view: writing flat perturbs x
    for k in range(flat.size):
        original = flat[k]
        flat[k] = original + eps
        f_plus = f()
        flat[k] = original - eps
        f_minus = f()
        flat[k] = original
        grad.reshape(-1)[k] = (f_plus - f_minus) / (2 * eps)
    return grad


def directional_derivative(
    f: Callable[[], float], params: Sequence[np.ndarray], directions: Sequence[np.ndarray], eps: float = 1e-6
) -> float:
    """(f(θ + εv) - f(θ - εv)) / 2ε with every array of params moved along its direction at once."""
    originals = [p.copy() for p in params]
    for p, p0, v in zip(params, originals, directions):
        p[...] = p0 + eps * v
    f_plus = f()
    for p, p0, v in zip(params, originals, directions):
        p[...] = p0 - eps * v
    f_minus = f()
    for p, p0 in zip(params, originals):
        p[...] = p0
    return (f_plus - f_minus) / (2 * eps)
