"""torch.nn as an oracle: import it (a failure in CI, a skip elsewhere) and run a model through it."""

from __future__ import annotations

import os

import numpy as np
import pytest

import fusedrnn as fr


def import_torch():
    """torch, or a skip outside CI (in CI the test extras install torch==2.13.0, so it must import)."""
    if os.environ.get("CI"):
        import torch
    else:
        torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def torch_module(torch, model: fr.RecurrentNetwork):
    """The torch.nn module with the same configuration and parameters as `model`."""
    kwargs = dict(num_layers=model.num_layers, bias=model.bias, batch_first=model.batch_first,
                  bidirectional=model.bidirectional, dtype=getattr(torch, model.dtype.name))
    name = model.cell.name
    if name == "lstm":
        module = torch.nn.LSTM(model.input_size, model.hidden_size, **kwargs)
    elif name == "gru":
        module = torch.nn.GRU(model.input_size, model.hidden_size, **kwargs)
    else:
        module = torch.nn.RNN(model.input_size, model.hidden_size, nonlinearity=name.removeprefix("rnn_"), **kwargs)
    module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.params.items()})
    return module


def leaf(torch, array: np.ndarray):
    return torch.tensor(array, requires_grad=True)
