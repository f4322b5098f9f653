"""Whether numba's threads survived the fork that made this process.

Numba's ``omp`` threading layer runs on GNU OpenMP on Linux, whose worker threads a fork does not
copy; numba then ends a child's first parallel call with SIGTERM ("Terminating: fork() called from
a process already using GNU OpenMP, this is unsafe."). Forked worker processes are
multiprocessing's default on Linux, so a clear error replaces that.
"""

from __future__ import annotations

import os
import sys

import numba

_lost_threads = False  # set in a child forked after numba's omp layer ran


def _omp_layer_running() -> bool:
    try:
        return numba.threading_layer() == "omp"
    except ValueError:  # no parallel function has run yet: nothing to lose
        return False


def _after_fork_in_child() -> None:
    global _lost_threads
    _lost_threads = _lost_threads or (sys.platform.startswith("linux") and _omp_layer_running())


os.register_at_fork(after_in_child=_after_fork_in_child)


def check_threads_survived() -> None:
    """Raise RuntimeError in a process forked after numba's omp threading layer ran."""
    if _lost_threads:
        raise RuntimeError(
            "the numba backend cannot run in this process: it was forked after numba's 'omp' threading "
            "layer (GNU OpenMP) ran, and numba would end it. Use the cpp backend, or start worker processes "
            "with multiprocessing's 'spawn' or 'forkserver' method"
        )
