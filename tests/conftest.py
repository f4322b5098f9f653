"""Shared fixtures: a seeded generator, and `backend` over every backend that must exist here.

A missing backend is a failure, never a skip: the test extras install numba and CI
builds the extension. Set FUSEDRNN_TEST_BACKENDS (comma-separated) to narrow the list,
e.g. for an install made without the extension.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

from fusedrnn import backends

ALL_BACKENDS = list(backends.ORDER)
TEST_BACKENDS = [
    name.strip()
    for name in os.environ.get("FUSEDRNN_TEST_BACKENDS", ",".join(ALL_BACKENDS)).split(",")
    if name.strip()
]
FAST_BACKENDS = [name for name in TEST_BACKENDS if name != "numpy"]

# Files about one backend's internals run only when that backend is under test.
collect_ignore_glob = [f"test_{name}_*.py" for name in ("cpp", "numba") if name not in TEST_BACKENDS]

# CI draws the same examples every run (a red CI is then reproducible); locally they vary.
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


def require_backend(name: str):
    """The backend, or a test failure that says why it is missing."""
    try:
        return backends.get(name)
    except backends.BackendUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture(params=TEST_BACKENDS)
def backend(request):
    """Every backend under test, including the numpy reference."""
    return require_backend(request.param)


@pytest.fixture(params=FAST_BACKENDS)
def fast_backend(request):
    """Every backend under test except the reference it is compared with."""
    return require_backend(request.param)
