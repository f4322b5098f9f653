"""The backend registry: which backends import here, which one runs, and why one is missing.

The default is the fastest backend that imports (cpp, then numba, then numpy);
``FUSEDRNN_BACKEND`` in the environment (read once, when fusedrnn is imported: a lookup costs
0.9 us, a tenth of a small call's Python side) or ``use_backend(name)`` choose another.
"""

from __future__ import annotations

import importlib
import os
import warnings
from contextvars import ContextVar

from .base import Backend

ORDER = ("cpp", "numba", "numpy")  # fastest first
_MODULES = {
    "cpp": "fusedrnn.backends.cpp",
    "numba": "fusedrnn.backends.numba",
    "numpy": "fusedrnn.reference",
}
_INSTALL_HINT = {
    "cpp": "reinstall fusedrnn with a C++17 compiler available (pip install --force-reinstall --no-cache-dir fusedrnn)",
    "numba": "pip install 'fusedrnn[numba]'",
}
_selected: ContextVar[str | None] = ContextVar("fusedrnn_backend", default=None)
_loaded: dict[str, Backend | None] = {}
_why: dict[str, str] = {}
_warned_slow = False
_fastest: list[str] = []  # default_name() without FUSEDRNN_BACKEND, once found (a call costs 0.26 us)
_from_env = os.environ.get("FUSEDRNN_BACKEND", "").strip()


class BackendUnavailable(ImportError):
    """The requested backend cannot run here; the message says why."""


def _load(name: str) -> Backend | None:
    if name not in _loaded:
        try:
            _loaded[name] = importlib.import_module(_MODULES[name]).BACKEND
        except Exception as error:  # noqa: BLE001 -- a broken backend must not break the others; why() says it
            _loaded[name] = None
            _why[name] = f"{type(error).__name__}: {error}"
    return _loaded[name]


def available() -> list[str]:
    """Names of the backends that import here, fastest first."""
    return [name for name in ORDER if _load(name) is not None]


def why(name: str) -> str | None:
    """Why backend ``name`` is unavailable, or None when it is available."""
    _check_name(name)
    return None if _load(name) is not None else _why[name]


def _check_name(name: str) -> None:
    if name not in _MODULES:
        raise ValueError(f"backend: expected one of {list(ORDER)}, got {name!r}")


def default_name() -> str:
    """The backend used when none is selected: FUSEDRNN_BACKEND, else the fastest available."""
    global _warned_slow
    if _from_env:
        return _from_env
    if _fastest:  # which backends import cannot change within a process: found once
        return _fastest[0]
    # The first that imports: the slower ones are not imported at all (numba alone takes 0.1 s).
    name = next((n for n in ORDER if _load(n) is not None), None)
    if name is None:
        reasons = "; ".join(f"{n}: {_why[n]}" for n in ORDER)
        raise BackendUnavailable(f"no fusedrnn backend can run here: {reasons}")
    if name == "numpy" and not _warned_slow:
        _warned_slow = True
        hints = "; ".join(f"{n}: {_why[n]} ({_INSTALL_HINT[n]})" for n in ("cpp", "numba"))
        warnings.warn(
            f"fusedrnn is running on the slow numpy reference backend. {hints}",
            RuntimeWarning,
            stacklevel=3,
        )
    _fastest.append(name)
    return name


def current() -> str:
    """Name of the backend that a call made now would use."""
    return _selected.get() or default_name()


def get(name: str | None = None) -> Backend:
    """The backend called ``name`` (or the current one); raises BackendUnavailable with the reason."""
    name = name or current()
    backend = _loaded.get(name)
    if backend is not None:  # loaded before (so a valid name): every call of a model comes here
        return backend
    _check_name(name)
    backend = _load(name)
    if backend is None:
        hint = f"; to get it: {_INSTALL_HINT[name]}" if name in _INSTALL_HINT else ""
        raise BackendUnavailable(f"backend {name!r} is not available: {_why[name]}{hint}")
    return backend


def release_memory() -> int:
    """Free what backends keep between calls (the cpp backend's packed weights and pooled
    buffers, up to 512 MB); returns the bytes freed. Later calls simply rebuild what they need."""
    cpp = _loaded.get("cpp")
    return cpp.release_memory() if cpp is not None else 0


class use_backend:  # noqa: N801 -- used as a function: ``with use_backend(name):``
    """Run the calls in this block (this thread / task only) on backend ``name``; ``as`` gives the backend.

    A class rather than a @contextmanager generator: entering and leaving take 0.35 us against
    0.85, which a loop of one-step calls, each in its own block, pays every step.
    """

    __slots__ = ("_backend", "_token")

    def __init__(self, name: str) -> None:
        self._backend = get(name)

    def __enter__(self) -> Backend:
        self._token = _selected.set(self._backend.name)
        return self._backend

    def __exit__(self, *exc_info) -> None:
        _selected.reset(self._token)


__all__ = ["Backend", "BackendUnavailable", "ORDER", "available", "current", "default_name", "get", "release_memory", "use_backend", "why"]
