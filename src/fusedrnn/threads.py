"""How many threads a kernel call uses: fr.set_num_threads(n), else OMP_NUM_THREADS, else the usable cores.

Backends ask ``get_num_threads()`` at every call and pass the number to their kernels
explicitly (OpenMP ``num_threads``, numba.set_num_threads), so the setting is one
process-wide value that every backend honours the same way. OMP_NUM_THREADS is read once, when
fusedrnn is imported (as libgomp and torch read it): a lookup of a variable that is not set
costs 0.9 us, a tenth of a small call's Python side. The usable cores are asked every call
(0.5 us): taskset and cgroups change them while a process runs.
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


def _from_environment(value: str) -> int | None:
    """OMP_NUM_THREADS's first entry when it is a positive int, else None."""
    first = value.split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else None


_from_env = _from_environment(os.environ.get("OMP_NUM_THREADS", ""))


def default_num_threads() -> int:
    """OMP_NUM_THREADS when it held a positive int (its first entry) at import, else the cores this process may use."""
    return _from_env if _from_env is not None else _usable_cores()


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads per kernel call from now on (None: back to the default)."""
    global _requested
    _requested = None if n is None else validate.positive_int(n, "n")


def get_num_threads() -> int:
    """Threads a kernel call made now uses."""
    return _requested if _requested is not None else default_num_threads()
