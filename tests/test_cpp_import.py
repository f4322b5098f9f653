"""What loading the cpp backend leaves in the process (backends/cpp.py): no threads of its BLAS, and the
environment as it was. Each case runs in a fresh interpreter, where the libraries load for the first time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os, numpy
threads = lambda: len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 0
before = threads()
import fusedrnn.backends.cpp
print(json.dumps({"added_threads": threads() - before,
                  "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "GOMP_SPINCOUNT")}}))
"""


def load_in_fresh_process(**env) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         env={**base, **env}, timeout=120)
    return json.loads(out.stdout)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through Linux's /proc")
def test_loading_starts_no_blas_threads():
    # OpenBLAS would start one per further CPU, each spinning for its first 0.1 s or so.
    assert load_in_fresh_process()["added_threads"] == 0


@pytest.mark.parametrize("env", [{}, {"OPENBLAS_NUM_THREADS": "2", "GOMP_SPINCOUNT": "5"}], ids=["unset", "set"])
def test_loading_leaves_the_environment_as_it_was(env):
    assert load_in_fresh_process(**env)["env"] == {k: env.get(k) for k in ("OPENBLAS_NUM_THREADS", "GOMP_SPINCOUNT")}
