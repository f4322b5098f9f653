"""The numba backend in a child forked after it ran: a clear error where numba's GNU OpenMP layer would
end the process (backends/numba/after_fork.py), the same results wherever its threads survive."""

from __future__ import annotations

import sys

import numba
import numpy as np
import pytest

import fusedrnn as fr
from forking import in_forked_child


def test_a_forked_child_gets_an_error_or_the_parents_results(rng):
    model = fr.GRU(16, 16, seed=2)
    x = rng.standard_normal((5, 3, 16)).astype(np.float32)
    with fr.use_backend("numba"):
        y = model.forward(x)[0]

    def child():
        with fr.use_backend("numba"):
            return model.forward(x)[0]

    if sys.platform.startswith("linux") and numba.threading_layer() == "omp":
        with pytest.raises(RuntimeError, match="forked after numba's 'omp' threading layer"):
            in_forked_child(child)
    else:
        np.testing.assert_array_equal(in_forked_child(child), y)
