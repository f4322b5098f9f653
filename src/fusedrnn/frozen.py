"""FrozenNetwork: an inference-only snapshot of a network, with read-only copies of its parameters.

The cpp backend keeps its packed copies of the weights across calls, and checks on every call
that the arrays have not changed since: it compares them with a copy, byte for byte. For a
network whose weights no longer change that check is pure cost, and at batch 1 a large one:
one LSTM step (T=1, H=256) took 62 us with it and 37 us without. A snapshot's parameters are
its own read-only arrays, which nothing can change, so the check is left out, and calls of one
or two steps take their input projection from the packed weights too (the network's own calls
take it from BLAS there, rounding differently).
"""

from __future__ import annotations

import copy
import itertools
from types import MappingProxyType

import numpy as np

from . import network
from .layers import RecurrentNetwork

# Each snapshot's id: the cpp backend's cache knows a snapshot's packings by it, so an array
# allocated where a dead snapshot's was is never taken for it.
_ids = itertools.count(1)


def _read_only_copy(array: np.ndarray) -> np.ndarray:
    own = np.array(array, copy=True, order="C")
    own.flags.writeable = False
    return own


class FrozenNetwork:
    """``net.frozen()``: runs inference as ``net(x, state, lengths)`` does, with the same results,
    on copies of net's parameters taken when it was frozen (later changes to net do not reach it).

    There is no training forward or backward: freeze again after the weights change.
    """

    def __init__(self, net: RecurrentNetwork) -> None:
        if not isinstance(net, RecurrentNetwork):
            raise TypeError(f"net: expected an LSTM, GRU or RNN of fusedrnn, got {type(net).__name__}")
        snapshot = copy.copy(net)  # config and options shared (immutable), parameters our own
        snapshot.params = {name: _read_only_copy(value) for name, value in net.params.items()}
        self._net = snapshot
        self._arrays = tuple(snapshot.params.values())  # each owns its data, so only writeable can change
        self._id = next(_ids)
        # Made once: the arrays never change (a tenth of a one-step call's Python side to make).
        self._weights = network.stack_weights(snapshot.config, snapshot.params, snapshot.dtype, self._id)

    def __call__(self, x, state=None, lengths=None):
        """Inference: returns (y, state), state being h or (h, c) for LSTM; as RecurrentNetwork.__call__."""
        y, final, _ = self._net._forward(x, state, lengths, train=False, rng=None,
                                         weights=self._weights if self._intact() else None)
        return y, final

    def _intact(self) -> bool:
        """Whether no parameter was made writeable again (whoever did gets the checked path: never
        stale results). A plain loop: all() over a generator took 0.43 us of a one-step call."""
        for array in self._arrays:
            if array.flags.writeable:
                return False
        return True

    @property
    def params(self) -> MappingProxyType:
        """The snapshot's parameters by PyTorch name: read-only arrays."""
        return MappingProxyType(self._net.params)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Writeable copies of the parameters, by PyTorch name."""
        return self._net.state_dict()

    config = property(lambda self: self._net.config)
    cell = property(lambda self: self._net.cell)
    input_size = property(lambda self: self._net.input_size)
    hidden_size = property(lambda self: self._net.hidden_size)
    num_layers = property(lambda self: self._net.num_layers)
    bidirectional = property(lambda self: self._net.bidirectional)
    bias = property(lambda self: self._net.bias)
    batch_first = property(lambda self: self._net.batch_first)
    dtype = property(lambda self: self._net.dtype)

    def __repr__(self) -> str:
        return f"FrozenNetwork({self._net!r})"
