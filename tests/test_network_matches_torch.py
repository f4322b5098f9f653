"""The numpy reference, composed into networks, against torch.nn: outputs, final states, every gradient.

Covers every cell torch has (the reset-before GRU has no torch twin: see the ONNX and
finite-difference tests), layers, directions, batch_first, bias=False, initial states,
lengths against pack_padded_sequence, and clipping against clip_grad_norm_ / clip_grad_value_.
"""

from __future__ import annotations

import numpy as np
import pytest

import fusedrnn as fr
from tolerance import assert_close
from torch_oracle import import_torch, leaf, torch_module

torch = import_torch()

MODELS = {
    "lstm": lambda *a, **k: fr.LSTM(*a, **k),
    "gru": lambda *a, **k: fr.GRU(*a, **k),
    "rnn_tanh": lambda *a, **k: fr.RNN(*a, nonlinearity="tanh", **k),
    "rnn_relu": lambda *a, **k: fr.RNN(*a, nonlinearity="relu", **k),
}
CONFIGS = [
    pytest.param(dict(), id="1layer"),
    pytest.param(dict(num_layers=2, bidirectional=True), id="2layers-bidir"),
    pytest.param(dict(num_layers=3, batch_first=True), id="3layers-batch_first"),
    pytest.param(dict(bidirectional=True, bias=False, batch_first=True), id="bidir-nobias-batch_first"),
]


def run_both(model, x, state, dy, dstate, lengths=None, clip=None):
    """Forward + backward through fusedrnn (numpy backend) and torch; returns two dicts of named arrays."""
    with fr.use_backend("numpy"):
        y, final, tape = model.forward(x, state, lengths, train=True)
        grads = model.backward(tape, dy, dstate, clip=clip)
    ours = {"y": y, "x.grad": grads.x, **{f"{k}.grad": v for k, v in grads.params.items()}}
    if model.cell.has_cell_state:
        ours.update({"h_n": final[0], "c_n": final[1], "h0.grad": grads.state[0], "c0.grad": grads.state[1]})
    else:
        ours.update({"h_n": final, "h0.grad": grads.state})

    module = torch_module(torch, model)
    xt = leaf(torch, x)
    states = [leaf(torch, s) for s in (state if isinstance(state, tuple) else (state,))]
    tstate = tuple(states) if model.cell.has_cell_state else states[0]
    if lengths is None:
        yt, ft = module(xt, tstate)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=model.batch_first, enforce_sorted=False)
        yp, ft = module(packed, tstate)
        T = x.shape[1] if model.batch_first else x.shape[0]
        yt, _ = torch.nn.utils.rnn.pad_packed_sequence(yp, batch_first=model.batch_first, total_length=T)
    finals = ft if model.cell.has_cell_state else (ft,)
    dfinals = dstate if isinstance(dstate, tuple) else (dstate,)
    loss = (yt * torch.from_numpy(dy)).sum() + sum((f * torch.from_numpy(d)).sum() for f, d in zip(finals, dfinals))
    loss.backward()
    if clip is not None and clip.value is not None:
        torch.nn.utils.clip_grad_value_(module.parameters(), clip.value)
    norm = None
    if clip is not None and clip.max_norm is not None:
        norm = float(torch.nn.utils.clip_grad_norm_(module.parameters(), clip.max_norm))
    theirs = {"y": yt.detach().numpy(), "x.grad": xt.grad.numpy(),
              **{f"{k}.grad": p.grad.numpy() for k, p in module.named_parameters()}, "h_n": finals[0].detach().numpy(),
              "h0.grad": states[0].grad.numpy()}
    if model.cell.has_cell_state:
        theirs.update({"c_n": finals[1].detach().numpy(), "c0.grad": states[1].grad.numpy()})
    return ours, theirs, grads.norm, norm


def problem(model, rng, T=6, B=4, scale=1.0):
    D, L, H = model.num_directions, model.num_layers, model.hidden_size
    dtype = model.dtype
    shape = (B, T, model.input_size) if model.batch_first else (T, B, model.input_size)
    x = rng.standard_normal(shape).astype(dtype)
    states = tuple((0.5 * rng.standard_normal((L * D, B, H))).astype(dtype) for _ in range(2))
    dstates = tuple(rng.standard_normal((L * D, B, H)).astype(dtype) for _ in range(2))
    y_shape = (B, T, D * H) if model.batch_first else (T, B, D * H)
    dy = (scale * rng.standard_normal(y_shape)).astype(dtype)
    if not model.cell.has_cell_state:
        states, dstates = states[0], dstates[0]
    return x, states, dy, dstates


def assert_all_close(ours, theirs, dtype):
    assert set(ours) == set(theirs)
    for name in theirs:
        assert_close(name, ours[name], theirs[name], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("cell", list(MODELS))
def test_outputs_and_gradients_match_torch(cell, config, dtype, rng):
    model = MODELS[cell](5, 7, dtype=dtype, seed=3, **config)
    ours, theirs, _, _ = run_both(model, *problem(model, rng))
    assert_all_close(ours, theirs, dtype)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("cell", list(MODELS))
def test_lengths_match_pack_padded_sequence(cell, batch_first, rng):
    model = MODELS[cell](4, 6, num_layers=2, bidirectional=True, batch_first=batch_first, dtype=np.float64, seed=5)
    x, state, dy, dstate = problem(model, rng, T=7, B=5)
    lengths = np.array([7, 1, 4, 7, 2])
    ours, theirs, _, _ = run_both(model, x, state, dy, dstate, lengths=lengths)
    assert_all_close(ours, theirs, np.float64)


@pytest.mark.parametrize(
    "clip",
    [
        pytest.param(fr.Clip(max_norm=0.1), id="max_norm-active"),
        pytest.param(fr.Clip(max_norm=1e6), id="max_norm-inactive"),
        pytest.param(fr.Clip(value=0.01), id="value"),
        pytest.param(fr.Clip(max_norm=0.05, value=0.02), id="value-then-max_norm"),
    ],
)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_clipping_matches_torch_utils(cell, clip, rng):
    model = MODELS[cell](5, 6, num_layers=2, bidirectional=True, dtype=np.float64, seed=7)
    ours, theirs, norm, torch_norm = run_both(model, *problem(model, rng, scale=3.0), clip=clip)
    assert_all_close(ours, theirs, np.float64)
    if clip.max_norm is not None:
        assert norm == pytest.approx(torch_norm, rel=1e-10)
