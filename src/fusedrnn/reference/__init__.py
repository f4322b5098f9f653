"""The numpy backend: the executable specification every other backend is checked against.

Written for clarity, not speed. Cells (rnn.py, lstm.py, gru.py) hold one step's math;
layer.py holds the time loop. The protocol it implements: fusedrnn/backends/base.py.
"""

from __future__ import annotations

import dataclasses

from .layer import layer_backward, layer_forward


class NumpyBackend:
    """The Backend protocol over the reference functions of layer.py."""

    name = "numpy"

    def layer_forward(self, cell, x, h0, c0, weights, lengths, *, reverse, train):
        return layer_forward(cell, x, h0, c0, weights, lengths, reverse=reverse, train=train)

    def layer_backward(self, cell, tape, dy, dh_n, dc_n, *, clip_gate, clip_value, need_dx=True):
        grads = layer_backward(cell, tape, dy, dh_n, dc_n, clip_gate=clip_gate, clip_value=clip_value)
        return grads if need_dx else dataclasses.replace(grads, dx=None)


BACKEND = NumpyBackend()

__all__ = ["BACKEND", "NumpyBackend", "layer_backward", "layer_forward"]
