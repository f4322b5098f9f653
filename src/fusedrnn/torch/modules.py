"""LSTM, GRU and RNN as torch.nn.Modules: torch.nn's constructor, parameters and forward; fusedrnn's kernels.

Shapes: input (T, B, I), (B, T, I) with batch_first, (T, I) unbatched, or a PackedSequence;
output (T, B, D*H) likewise; h_0 / c_0 / h_n / c_n (L*D, B, H), or (L*D, H) unbatched.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .. import cells, network, validate
from ..cells import CellSpec
from ..weights import param_shapes
from .autograd import ParameterViews, empty_batch, rows_of_pack, run

_FLOAT_DTYPES = (torch.float32, torch.float64)


def _check_tensor(value, name: str) -> torch.Tensor:
    """A dense CPU tensor of float32 or float64, else an exception naming the argument."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if not value.is_cpu:  # value.device.type took 0.28 us
        raise ValueError(f"{name}: expected a CPU tensor (fusedrnn computes on the CPU), got device {value.device}")
    if value.layout != torch.strided:
        raise TypeError(f"{name}: expected a dense (strided) tensor, got layout {value.layout}")
    if value.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype torch.float32 or torch.float64, got {value.dtype}")
    return value


@functools.lru_cache(maxsize=64)
def _config(cell: CellSpec, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, bias: bool,
            dropout: float) -> network.Config:
    """network.Config of these fields, made once (a frozen dataclass's __init__ took 1.2 us a call)."""
    return network.Config(cell=cell, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                          bidirectional=bidirectional, bias=bias, dropout=dropout)


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {value!r}")
    return value


class RecurrentBase(nn.Module):
    """What LSTM, GRU and RNN share: parameters as torch.nn registers them, and forward.

    Parameters are ``weight_ih_l{k}[_reverse]`` (G*H, I_k), ``weight_hh_l{k}[_reverse]`` (G*H, H),
    ``bias_ih_l{k}[_reverse]``, ``bias_hh_l{k}[_reverse]`` (G*H), registered in torch.nn's order and
    initialised as torch.nn does (U(-1/sqrt(H), 1/sqrt(H)) from torch's generator), so the same
    ``torch.manual_seed`` gives the same weights and state_dicts load both ways.
    """

    mode: str = ""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = validate.positive_int(input_size, "input_size")
        self.hidden_size = validate.positive_int(hidden_size, "hidden_size")
        self.num_layers = validate.positive_int(num_layers, "num_layers")
        self.bias = _check_bool(bias, "bias")
        self.batch_first = _check_bool(batch_first, "batch_first")
        self.dropout = validate.probability(dropout, "dropout")
        self.bidirectional = _check_bool(bidirectional, "bidirectional")
        self.proj_size = 0
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"dropout: {dropout} has no effect with num_layers=1 (dropout acts between layers)",
                UserWarning,
                stacklevel=3,
            )
        shapes = param_shapes(self._cell(), self.input_size, self.hidden_size, self.num_layers,
                              self.bidirectional, self.bias)
        self._flat_weights_names = list(shapes)
        self._views_cache = None  # see _parameter_views
        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.empty(shape, device=device, dtype=dtype)))
        self._checked_parameters()  # refuses a GPU device or a dtype other than float32 / float64 now
        self.reset_parameters()

    def _cell(self) -> CellSpec:
        raise NotImplementedError  # each subclass names its cell

    # --- torch.nn.RNNBase's surface ---------------------------------------------------------
    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), drawn in registration order as torch.nn does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """Does nothing: the kernels read the parameters where they are (kept for drop-in use)."""

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        per_layer = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[k : k + per_layer]] for k in range(0, len(names), per_layer)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # --- forward ------------------------------------------------------------------------------
    # torch.compile runs this forward as it is, between the graphs it makes of the caller's code: traced, its
    # NumPy work broke a small model's graph 16 times (2.6 s to compile, 0.27 s now); the wrapper costs 0.4 us a call.
    @torch.compiler.disable(reason="fusedrnn's kernels run outside torch's graphs")
    def forward(self, input, hx=None):
        """As torch.nn.LSTM / GRU / RNN: returns (output, h_n), or (output, (h_n, c_n)) for LSTM.

        input: tensor (T, B, I) / (B, T, I) with batch_first / (T, I) unbatched, or a PackedSequence
        (sorted or not); the output has the same form. hx: h_0, or (h_0, c_0) for LSTM, (L*D, B, H)
        in the caller's batch order; zeros when None. Dropout between layers acts in training mode.
        """
        params, dtype, views = self._parameter_views()
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            _check_tensor(data, "input.data")
            if data.dim() != 2:
                raise ValueError(f"input.data: expected 2 dimensions (N, I), got shape {tuple(data.shape)}")
            # The pack's rows go to and from the padded (sorted) layout inside the autograd function:
            # torch's pad_packed_sequence and pack_padded_sequence with their backwards took 4.7 ms of
            # a 28 ms training step at T=50 B=32 H=256.
            sizes = batch_sizes.numpy().astype(np.int64)
            if sizes.size == 0 or sizes[-1] < 1 or (np.diff(sizes) > 0).any() or int(sizes.sum()) != data.shape[0]:
                raise ValueError(f"input.batch_sizes: expected positive non-increasing counts summing to the "
                                 f"{data.shape[0]} rows of input.data, got {sizes.tolist()}")
            x = data
            T, B, I = int(sizes.size), int(sizes[0]), data.shape[1]
            batched = True
        else:
            _check_tensor(input, "input")
            if input.dim() not in (2, 3):
                layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
                raise ValueError(
                    f"input: expected 3 dimensions {layout} or 2 (T, I) unbatched, got shape {tuple(input.shape)}"
                )
            batched = input.dim() == 3
            x = input.transpose(0, 1) if batched and self.batch_first else input
            x = x if batched else x.unsqueeze(1)
            T, B, I = x.shape
        if x.dtype != dtype:
            raise TypeError(f"input: expected dtype {dtype} (the parameters' dtype), got {x.dtype}")
        if I != self.input_size:
            raise ValueError(
                f"input: expected I = input_size = {self.input_size} features, got "
                + (f"input.data of shape {tuple(x.shape)}" if packed else f"time-major shape {tuple(x.shape)}")
            )
        if T == 0:  # torch.nn refuses it too
            raise ValueError(f"input: expected at least one time step, got T=0 (time-major shape {tuple(x.shape)})")

        h0, c0 = self._initial_state(hx, batched, B, dtype)
        if packed and sorted_indices is not None:  # the caller's batch order -> the pack's
            h0 = None if h0 is None else h0.index_select(1, sorted_indices)
            c0 = None if c0 is None else c0.index_select(1, sorted_indices)
        # A pack's rows in its padded (sorted) layout; row b runs for the steps whose batch size exceeds b.
        rows = rows_of_pack(sizes) if packed else None
        lengths = validate.full_lengths(T, B) if not packed else rows.sum(axis=0, dtype=np.int64)

        dropout_active = self.training and self.dropout > 0 and self.num_layers > 1
        # Masks come from a seed drawn from torch's generator, so torch.manual_seed reproduces them.
        seed = int(torch.randint(0, 2**62, (1,)).item()) if dropout_active else None
        config = _config(self._cell(), self.input_size, self.hidden_size, self.num_layers, self.bidirectional,
                         self.bias, self.dropout if dropout_active else 0.0)
        if B == 0:  # as torch.nn: empty output and states, zero gradients
            outputs = empty_batch(config, x, h0, c0, params)
        else:
            outputs = run(config, views, seed, x.contiguous(), h0, c0, lengths, params, rows=rows)
        y, states = outputs[0], list(outputs[1:])

        if packed:
            output = PackedSequence(y, batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                states = [s.index_select(1, unsorted_indices) for s in states]
        elif not batched:
            output = y.squeeze(1)
            states = [s.squeeze(1) for s in states]
        else:
            output = y.transpose(0, 1) if self.batch_first else y
        return output, (tuple(states) if len(states) == 2 else states[0])

    def _parameter_views(self) -> tuple[tuple[torch.Tensor, ...], torch.dtype, ParameterViews]:
        """The parameters in torch.nn's order, their one dtype and their ParameterViews, made again (and the
        parameters checked again) only when a parameter's memory, shape, dtype or contiguity changed, as
        when a tensor or .data is assigned: a view of the same memory sees every change to the values. The
        views keep the memory they see alive, so no other tensor can be at the same address. Checking and
        viewing the four parameters of a layer took 7-8 us of a 68 us one-step call."""
        registered = self._parameters
        params = tuple(registered[name] if name in registered else getattr(self, name)
                       for name in self._flat_weights_names)
        try:
            key = [(p.data_ptr(), p.shape, p.dtype, p.is_contiguous()) for p in params]
        except (AttributeError, RuntimeError):  # not a dense tensor: _checked_parameters says what it is
            key = None
        cached = self._views_cache
        if key is not None and cached is not None and cached[0] == key:
            return params, cached[1], cached[2]
        params, dtype = self._checked_parameters()
        base = _config(self._cell(), self.input_size, self.hidden_size, self.num_layers, self.bidirectional,
                       self.bias, 0.0)
        views = ParameterViews(base, self._flat_weights_names, params)
        # A parameter that is not contiguous is viewed as a copy, which its later changes would not reach.
        self._views_cache = (key, dtype, views) if key is not None and all(k[3] for k in key) else None
        return params, dtype, views

    def __getstate__(self):
        """As torch.nn.Module's, without the views (a copy or pickle would hold copies of the parameters
        that an address reused by chance could pass for the parameters' own)."""
        state = dict(super().__getstate__())
        state["_views_cache"] = None
        return state

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        self._views_cache = None

    def _checked_parameters(self) -> tuple[tuple[torch.Tensor, ...], torch.dtype]:
        """The parameters in torch.nn's order and their one dtype; refuses GPU, mixed, non-float32/64 or
        wrongly shaped parameters. Each looked up once, in _parameters where it is registered (getattr on a
        Module costs 0.6 us; all of this took 7 us of a 43 us one-step call)."""
        registered = self._parameters
        names = self._flat_weights_names
        params = tuple(registered[name] if name in registered else getattr(self, name) for name in names)
        shapes = param_shapes(self._cell(), self.input_size, self.hidden_size, self.num_layers,
                              self.bidirectional, self.bias)
        for name, param in zip(names, params):
            _check_tensor(param, name)
            if tuple(param.shape) != shapes[name]:
                raise ValueError(f"{name}: expected shape {shapes[name]}, got {tuple(param.shape)}")
        dtype = params[0].dtype
        if any(param.dtype != dtype for param in params):
            dtypes = sorted({str(param.dtype) for param in params})
            raise TypeError(f"parameters: expected one dtype for every parameter, got {dtypes}")
        return params, dtype

    def _initial_state(self, hx, batched: bool, B: int, dtype: torch.dtype):
        """(h0, c0) as contiguous [L*D, B, H] tensors (c0 None unless LSTM), or (None, None) when hx is None."""
        if hx is None:
            return None, None
        has_c = self._cell().has_cell_state
        if has_c:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"hx: expected a pair (h_0, c_0) for an LSTM, got {type(hx).__name__}")
            named = [("h_0", hx[0]), ("c_0", hx[1])]
        else:
            if isinstance(hx, (tuple, list)):
                raise TypeError(
                    f"hx: expected a single tensor h_0 for {type(self).__name__}, got a {type(hx).__name__}"
                )
            named = [("h_0", hx)]
        L, H = self.num_layers * (2 if self.bidirectional else 1), self.hidden_size
        shape = (L, B, H) if batched else (L, H)
        states = []
        for name, value in named:
            _check_tensor(value, name)
            if tuple(value.shape) != shape:
                legend = "(L*D, B, H)" if batched else "(L*D, H) for unbatched input"
                raise ValueError(f"{name}: expected shape {shape} {legend}, got {tuple(value.shape)}")
            if value.dtype != dtype:
                raise TypeError(f"{name}: expected dtype {dtype} (the dtype of input), got {value.dtype}")
            states.append((value if batched else value.unsqueeze(1)).contiguous())
        return states[0], (states[1] if has_c else None)


class LSTM(RecurrentBase):
    r"""Long short-term memory, a drop-in ``torch.nn.LSTM`` (gates i, f, g, o) on fusedrnn's kernels.

    .. math::
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}),\quad f = \sigma(\dots),\quad
        g = \tanh(\dots),\quad o = \sigma(\dots) \\
        c' = f \odot c + i \odot g,\qquad h' = o \odot \tanh(c')

    ``proj_size`` is accepted for signature compatibility and must be 0.
    """

    mode = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None) -> None:
        if proj_size != 0:
            raise ValueError(f"proj_size: expected 0 (fusedrnn has no projected LSTM), got {proj_size!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def _cell(self) -> CellSpec:
        return cells.LSTM


class GRU(RecurrentBase):
    r"""Gated recurrent unit, a drop-in ``torch.nn.GRU`` (gates r, z, n) on fusedrnn's kernels.

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}),\quad z = \sigma(\dots) \\
        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})),\qquad h' = (1 - z) \odot n + z \odot h

    ``linear_before_reset=False`` (no torch.nn twin) selects the reset-before form of ONNX and
    Keras with the same parameters: :math:`n = \tanh(W_{in} x + b_{in} + W_{hn} (r \odot h) + b_{hn})`.
    """

    mode = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, *, linear_before_reset=True) -> None:
        self.linear_before_reset = _check_bool(linear_before_reset, "linear_before_reset")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def _cell(self) -> CellSpec:
        return cells.GRU if self.linear_before_reset else cells.GRU_RESET_BEFORE

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.linear_before_reset else ", linear_before_reset=False")


class RNN(RecurrentBase):
    r"""Elman RNN, a drop-in ``torch.nn.RNN`` on fusedrnn's kernels:
    :math:`h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`, :math:`\phi` = tanh or relu (``nonlinearity``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    @property
    def mode(self) -> str:
        return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"

    def _cell(self) -> CellSpec:
        return cells.RNN_TANH if self.nonlinearity == "tanh" else cells.RNN_RELU

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}")
