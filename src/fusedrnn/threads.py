"""How many threads a kernel call uses: fr.set_num_threads(n), else OMP_NUM_THREADS, else the usable cores.

Backends ask ``get_num_threads()`` at every call and pass the number to their kernels
explicitly (OpenMP ``num_threads``, numba.set_num_threads), so the setting is one
process-wide value that every backend honours the same way.
"""

from __future__ import annotations

import os

from . import validate

_requested: int | None = None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_num_threads() -> int:
    """OMP_NUM_THREADS when it holds a positive int (its first entry), else the cores this process may use."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return _usable_cores()


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads per kernel call from now on (None: back to the default)."""
    global _requested
    _requested = None if n is None else validate.positive_int(n, "n")


def get_num_threads() -> int:
    """Threads a kernel call made now uses."""
    return _requested if _requested is not None else default_num_threads()
