"""LSTM, GRU and RNN: the NumPy-level API. Models hold PyTorch-named parameters and run on any backend."""

from __future__ import annotations

import warnings

import numpy as np

from . import cells, network, validate
from .cells import CellSpec
from .types import Clip, Grads
from .weights import init_params, param_shapes


class RecurrentNetwork:
    """A stack of recurrent layers, in one or two directions, with PyTorch's parameters.

    Parameters mirror ``torch.nn.LSTM`` & co. ``dtype`` is the parameters' dtype (float32 by
    default, as PyTorch); inputs of the other float dtype are computed in the input's dtype.
    ``seed`` makes the initialisation and the dropout masks reproducible.

    Shapes: x [T, B, I] (or [B, T, I] with batch_first), y [T, B, D*H] (or [B, T, D*H]),
    states [L*D, B, H], where D = 2 if bidirectional else 1.
    """

    def __init__(
        self,
        cell: CellSpec,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype=np.float32,
        seed: int | None = None,
    ) -> None:
        self.config = network.Config(
            cell=cell,
            input_size=validate.positive_int(input_size, "input_size"),
            hidden_size=validate.positive_int(hidden_size, "hidden_size"),
            num_layers=validate.positive_int(num_layers, "num_layers"),
            bidirectional=bool(bidirectional),
            bias=bool(bias),
            dropout=validate.probability(dropout, "dropout"),
        )
        if self.config.dropout > 0 and self.config.num_layers == 1:
            warnings.warn(
                f"dropout: {dropout} has no effect with num_layers=1 (dropout acts between layers)",
                UserWarning,
                stacklevel=3,
            )
        self.batch_first = bool(batch_first)
        self._shapes = param_shapes(cell, self.input_size, self.hidden_size, self.num_layers, self.bidirectional, self.bias)
        self.params: dict[str, np.ndarray] = init_params(
            self._shapes, self.hidden_size, validate.float_dtype(dtype), seed
        )
        self._rng = np.random.default_rng(None if seed is None else seed + 1)

    # --- what the model is -------------------------------------------------------------
    cell = property(lambda self: self.config.cell)
    input_size = property(lambda self: self.config.input_size)
    hidden_size = property(lambda self: self.config.hidden_size)
    num_layers = property(lambda self: self.config.num_layers)
    bidirectional = property(lambda self: self.config.bidirectional)
    bias = property(lambda self: self.config.bias)
    dropout = property(lambda self: self.config.dropout)
    num_directions = property(lambda self: self.config.num_directions)

    @property
    def dtype(self) -> np.dtype:
        return next(iter(self.params.values())).dtype

    def __repr__(self) -> str:
        extras = [f"num_layers={self.num_layers}"] if self.num_layers != 1 else []
        extras += [f"{name}={value}" for name, value, default in self._repr_options() if value != default]
        return f"{type(self).__name__}({', '.join([str(self.input_size), str(self.hidden_size), *extras])})"

    def _repr_options(self):
        return [
            ("bias", self.bias, True),
            ("batch_first", self.batch_first, False),
            ("dropout", self.dropout, 0.0),
            ("bidirectional", self.bidirectional, False),
        ]

    # --- parameters ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters, by PyTorch name."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load parameters by PyTorch name (NumPy arrays or torch tensors); cast to the model's dtype."""
        checked = validate.params(dict(state_dict), self._shapes)
        dtype = self.dtype
        self.params = {name: np.array(value, dtype=dtype, copy=True) for name, value in checked.items()}

    def frozen(self) -> "FrozenNetwork":  # noqa: F821
        """An inference-only snapshot with read-only copies of the parameters (fusedrnn.FrozenNetwork):
        the fastest way to run a model whose weights no longer change."""
        from .frozen import FrozenNetwork

        return FrozenNetwork(self)

    # --- computing -----------------------------------------------------------------------
    def __call__(self, x, state=None, lengths=None):
        """Inference: returns (y, state), state being h or (h, c) for LSTM. Nothing is kept for backward."""
        y, final, _ = self.forward(x, state, lengths, train=False)
        return y, final

    def forward(self, x, state=None, lengths=None, *, train: bool = False, seed: int | None = None):
        """Run the network; returns (y, state, tape). ``tape`` is None unless ``train``.

        lengths: optional int [B], 0 <= lengths[b] <= T; steps t >= lengths[b] output zeros and
        leave the state unchanged (what a packed sequence does, without packing).
        train: keep what backward needs, and apply dropout between layers (masks drawn from
        ``seed`` when given, else from the model's generator).
        """
        rng = np.random.default_rng(seed) if seed is not None else self._rng
        return self._forward(x, state, lengths, train=bool(train), rng=rng)

    def _forward(self, x, state, lengths, *, train: bool, rng, weights: network.Stack | None = None):
        """forward's work; weights: a FrozenNetwork's stack_weights of self.params, or None (network.forward)."""
        config = self.config
        xt = validate.sequence(x, input_size=config.input_size, batch_first=self.batch_first)
        T, B, _ = xt.shape
        validate.sizes_fit(T, B, [config.input_size, config.cell.gates * config.hidden_size * config.num_directions])
        shape = (config.num_layers * config.num_directions, B, config.hidden_size)
        h0, c0 = validate.cell_state(config.cell, state, "state")
        h0 = validate.state(h0, "h0", shape, xt.dtype)
        c0 = validate.state(c0, "c0", shape, xt.dtype) if config.cell.has_cell_state else None
        lens = validate.lengths(lengths, T=T, B=B)
        if weights is None:  # a snapshot's own arrays were checked when it was made
            validate.model_params(self.params, self._shapes)
        y, h_n, c_n, tape = network.forward(config, self.params, xt, h0, c0, lens, train=train, rng=rng,
                                            weights=weights)
        if self.batch_first:
            y = np.ascontiguousarray(y.transpose(1, 0, 2))
        return y, self._pack_state(h_n, c_n), tape

    def backward(self, tape, dy, dstate=None, clip: Clip | None = None, *, input_grad: bool = True) -> Grads:
        """Backpropagation through time from a training forward's tape.

        dy: gradient of y (same shape as y); dstate: gradient of the final state (h, or (h, c)
        for LSTM), zeros when None; clip: a ``Clip`` (max_norm, value, gate_value) or None;
        input_grad: False when x needs no gradient (raw features): ``Grads.x`` is then None and
        the cpp backend skips its product, as torch does for an input without requires_grad.
        Returns Grads(x, state, params, norm); ``norm`` is the parameter gradient norm before
        max_norm scaling, as ``torch.nn.utils.clip_grad_norm_`` returns it.
        """
        if not isinstance(tape, network.NetworkTape):
            raise TypeError(f"tape: expected the tape of forward(..., train=True), got {type(tape).__name__}")
        if tape.config != self.config:
            raise ValueError("tape: expected a tape made by this model's forward, got one of a different network")
        if clip is None:
            clip = Clip()
        if not isinstance(clip, Clip):
            raise TypeError(f"clip: expected fusedrnn.Clip or None, got {type(clip).__name__}")
        if not isinstance(input_grad, (bool, np.bool_)):
            raise TypeError(f"input_grad: expected True or False, got {type(input_grad).__name__}")
        config = self.config
        T, B, _ = tape.x_shape
        y_shape = (B, T, config.num_directions * config.hidden_size) if self.batch_first else (
            T, B, config.num_directions * config.hidden_size)
        dy = validate.output_gradient(dy, "dy", y_shape, tape.dtype)
        if self.batch_first:
            dy = np.ascontiguousarray(dy.transpose(1, 0, 2))
        shape = (config.num_layers * config.num_directions, B, config.hidden_size)
        dh_n, dc_n = validate.cell_state(config.cell, dstate, "dstate")
        dh_n = validate.state(dh_n, "dh_n", shape, tape.dtype)
        dc_n = validate.state(dc_n, "dc_n", shape, tape.dtype) if config.cell.has_cell_state else None
        validate.model_params(self.params, self._shapes)
        result = network.backward(tape, self.params, dy, dh_n, dc_n, clip, need_dx=bool(input_grad))
        dx = result.dx
        if self.batch_first and dx is not None:
            dx = np.ascontiguousarray(dx.transpose(1, 0, 2))
        return Grads(x=dx, state=self._pack_state(result.dh0, result.dc0), params=result.params, norm=result.norm)

    def _pack_state(self, h, c):
        return (h, c) if self.config.cell.has_cell_state else h


class LSTM(RecurrentNetwork):
    r"""Long short-term memory, as ``torch.nn.LSTM`` (gates i, f, g, o).

    .. math::
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}),\quad f = \sigma(\dots),\quad
        g = \tanh(\dots),\quad o = \sigma(\dots) \\
        c' = f \odot c + i \odot g,\qquad h' = o \odot \tanh(c')
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, *, dtype=np.float32, seed=None):
        super().__init__(cells.LSTM, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype, seed=seed)


class GRU(RecurrentNetwork):
    r"""Gated recurrent unit, as ``torch.nn.GRU`` (gates r, z, n).

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}),\quad z = \sigma(\dots) \\
        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})),\qquad h' = (1 - z) \odot n + z \odot h

    ``linear_before_reset=False`` selects the reset-before form of ONNX (``linear_before_reset=0``)
    and Keras (``reset_after=False``) with the same parameters:
    :math:`n = \tanh(W_{in} x + b_{in} + W_{hn} (r \odot h) + b_{hn})`.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, *, linear_before_reset=True, dtype=np.float32, seed=None):
        cell = cells.GRU if linear_before_reset else cells.GRU_RESET_BEFORE
        super().__init__(cell, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype, seed=seed)

    @property
    def linear_before_reset(self) -> bool:
        return self.cell is cells.GRU

    def _repr_options(self):
        return [*super()._repr_options(), ("linear_before_reset", self.linear_before_reset, True)]


class RNN(RecurrentNetwork):
    r"""Elman RNN, as ``torch.nn.RNN``: :math:`h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`,
    with :math:`\phi` = tanh or relu (``nonlinearity``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, dtype=np.float32, seed=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        cell = cells.RNN_TANH if nonlinearity == "tanh" else cells.RNN_RELU
        super().__init__(cell, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype, seed=seed)

    @property
    def nonlinearity(self) -> str:
        return "tanh" if self.cell is cells.RNN_TANH else "relu"

    def _repr_options(self):
        return [("nonlinearity", self.nonlinearity, "tanh"), *super()._repr_options()]
