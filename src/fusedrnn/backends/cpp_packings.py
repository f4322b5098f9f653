"""The cpp backend's packed weights dropped when their arrays die.

The extension keeps each weight array's packings (and a copy of its bytes) keyed on the array's
address, and they used to outlive the array until 48 newer packings pushed them out: making and
training two-layer H=1024 LSTMs one after another, four dead models held 1.4 GB. After a call that
stored packings, the extension hands its weight arrays to the watcher set here, and the array owning
each one's memory is watched: when it dies, the packings of arrays within its memory go too. Calls
that find their packings cached never reach Python.
"""

from __future__ import annotations

import weakref

import numpy as np

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # NumPy 1.x
    byte_bounds = np.byte_bounds

_watched: set[int] = set()  # id() of each array watched, until it dies


def watch_for(core) -> None:
    """Make ``core`` (fusedrnn._core) hand its newly packed weights to watch()."""

    def forget(key: int, low: int, high: int) -> None:
        _watched.discard(key)
        core.forget_packed_within(low, high)

    def watch(*arrays: np.ndarray) -> None:
        for array in arrays:
            owner = array
            while isinstance(owner.base, np.ndarray):  # a view keeps its base alive: watch the base
                owner = owner.base
            if id(owner) not in _watched:
                low, high = byte_bounds(owner)
                weakref.finalize(owner, forget, id(owner), low, high).atexit = False
                _watched.add(id(owner))

    core.packing_watcher = watch
