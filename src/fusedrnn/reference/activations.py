"""Pointwise helpers shared by the reference cells: sigmoid and the gate-gradient clamp."""

from __future__ import annotations

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-a)) in a's dtype; exp overflows to inf for very negative a, giving exactly 0."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-a))


def clamp(da: np.ndarray, limit: float) -> np.ndarray:
    """da clamped to [-limit, limit]; limit 0 disables. NaN stays NaN."""
    if limit == 0:
        return da
    return np.clip(da, -limit, limit)
