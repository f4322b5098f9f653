"""Adam (Kingma & Ba 2015) for the examples: the optimiser both training scripts share."""

from __future__ import annotations

import math

import numpy as np


class Adam:
    """Adam updating a dict of NumPy arrays in place."""

    def __init__(self, params: dict[str, np.ndarray], lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        lr = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)   # bias corrections folded into the step size
        for name, g in grads.items():
            self.m[name] = b1 * self.m[name] + (1 - b1) * g
            self.v[name] = b2 * self.v[name] + (1 - b2) * g * g
            self.params[name] -= lr * self.m[name] / (np.sqrt(self.v[name]) + self.eps)
