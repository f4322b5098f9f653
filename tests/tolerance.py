"""Per-dtype tolerances and the one comparison backend tests use: relative error in norm."""

from __future__ import annotations

import numpy as np

TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def rel_err(actual, expected) -> float:
    """||a - b|| / ||b|| in float64; the absolute ||a - b|| when b is all zeros."""
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    diff = float(np.linalg.norm((a - b).ravel()))
    scale = float(np.linalg.norm(b.ravel()))
    return diff if scale == 0 else diff / scale


def assert_close(name: str, actual, expected, dtype, tol: float | None = None) -> None:
    """Fail, naming the tensor, unless actual matches expected within the tolerance of dtype.

    Arrays must also agree in shape and have the compute dtype; NaN and ±Inf must sit at
    the same places (they are compared as values there, never hidden).
    """
    dtype = np.dtype(dtype)
    tol = TOLERANCE[dtype] if tol is None else tol
    if expected is None or actual is None:
        assert actual is None and expected is None, f"{name}: expected {expected!r}, got {actual!r}"
        return
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), f"{name}: expected an ndarray, got {type(actual).__name__}"
        assert actual.shape == expected.shape, f"{name}: expected shape {expected.shape}, got {actual.shape}"
        assert actual.dtype == dtype, f"{name}: expected dtype {dtype}, got {actual.dtype}"
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    special_a, special_b = ~np.isfinite(a), ~np.isfinite(b)
    if special_a.any() or special_b.any():
        same = np.array_equal(special_a, special_b) and np.array_equal(a[special_b], b[special_b], equal_nan=True)
        count_a, count_b = np.count_nonzero(special_a), np.count_nonzero(special_b)
        assert same, f"{name}: NaN/Inf differ: {count_a} in actual, {count_b} expected, or at other places"
        a, b = a[~special_b], b[~special_b]
    err = rel_err(a, b)
    if not err <= tol:
        where = tuple(int(k) for k in np.unravel_index(np.argmax(np.abs(a - b)), a.shape)) if a.size else ()
        raise AssertionError(
            f"{name}: relative error {err:.3g} > {tol:g} ({dtype}, shape {np.shape(expected)}); "
            f"worst element {where}: {a[where]!r} vs expected {b[where]!r}"
        )
