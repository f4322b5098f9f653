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

from . import backends, network, validate
from .layers import RecurrentNetwork

# Each snapshot's id: the cpp backend's cache knows a snapshot's packings by it, so an array
# allocated where a dead snapshot's was is never taken for it.
_ids = itertools.count(1)

# Calls of at most this many (step, row) pairs take the one-layer shortcut (FrozenNetwork._one_layer_call):
# where the Python side is a large part of a call.
_SHORTCUT_PAIRS = 1 << 16


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
        validate.model_params(net.params, net._shapes)
        snapshot = copy.copy(net)  # config and options shared (immutable), parameters our own
        snapshot.params = {name: _read_only_copy(value) for name, value in net.params.items()}
        self._net = snapshot
        self._arrays = tuple(snapshot.params.values())  # each owns its data, so only writeable can change
        self._id = next(_ids)
        # Made once: the arrays never change (a tenth of a one-step call's Python side to make).
        self._weights = network.stack_weights(snapshot.config, snapshot.params, snapshot.dtype, self._id)
        config = snapshot.config
        self._shortcut = config.num_layers * config.num_directions == 1 and not snapshot.batch_first
        self._zero_state: tuple | None = None  # (h0, c0) of the last shortcut call without a state, read-only

    def __call__(self, x, state=None, lengths=None):
        """Inference: returns (y, state), state being h or (h, c) for LSTM; as RecurrentNetwork.__call__."""
        if self._shortcut and lengths is None and type(x) is np.ndarray:
            result = self._one_layer_call(x, state)
            if result is not None:
                return result
        y, final, _ = self._net._forward(x, state, lengths, train=False, rng=None,
                                         weights=self._weights if self._intact() else None)
        return y, final

    def _one_layer_call(self, x: np.ndarray, state):
        """A one-layer, one-direction snapshot called without lengths: the layer's call on the shared full
        lengths (validate.full_lengths) and, without a state, zero states kept from the last such call,
        without the general path's validation and network plumbing (3 of a one-step call's 7 us at H=64).
        The same call of the backend, so the same results. None where x is anything but a C-contiguous
        (T >= 1, B >= 1, input_size) array of the weights' dtype in a short call, where the state is anything
        but what a call returns (C-contiguous (1, B, hidden_size) arrays of x's dtype: h, or the tuple (h, c)),
        or where a parameter was made writeable again: the general path then takes it, and its checks."""
        layer, config = self._weights[0][0], self._net.config
        if (x.ndim != 3 or x.dtype != layer.w_hh.dtype or x.shape[2] != config.input_size
                or not x.flags.c_contiguous or not self._intact()):
            return None
        T, B, _ = x.shape
        if T == 0 or B == 0 or T * B > _SHORTCUT_PAIRS:
            return None
        if state is None:
            zero = self._zero_state  # in the weights' dtype, which x has
            if zero is None or zero[0].shape[0] != B:
                h0 = np.zeros((B, config.hidden_size), x.dtype)
                h0.flags.writeable = False  # shared by calls: read, never written, never returned
                zero = self._zero_state = (h0, h0 if config.cell.has_cell_state else None)
            h0, c0 = zero
        else:
            arrays = state if config.cell.has_cell_state and type(state) is tuple and len(state) == 2 else (state,)
            if len(arrays) != 1 + config.cell.has_cell_state:
                return None
            for array in arrays:
                if (type(array) is not np.ndarray or array.shape != (1, B, config.hidden_size)
                        or array.dtype != x.dtype or not array.flags.c_contiguous):
                    return None
            h0, c0 = arrays[0][0], arrays[1][0] if config.cell.has_cell_state else None
        result = backends.get(None).layer_forward(config.cell, x, h0, c0, layer, validate.full_lengths(T, B),
                                                  reverse=False, train=False)
        h_n = result.h_n[None]
        return result.y, ((h_n, result.c_n[None]) if result.c_n is not None else h_n)

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
