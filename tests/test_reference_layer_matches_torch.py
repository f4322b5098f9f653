"""The numpy reference layer against torch: nn.RNN/LSTM/GRU (gate order, lengths, both directions)
and a torch autograd loop with clamp hooks on the gate pre-activations (clip_gate, reset-before GRU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from strategies import make_layer_problem
from tolerance import assert_close

from fusedrnn.cells import CELLS
from fusedrnn.reference import BACKEND

TORCH_MODULES = {
    "rnn_tanh": lambda I, H: torch.nn.RNN(I, H, nonlinearity="tanh", bidirectional=True, dtype=torch.float64),
    "rnn_relu": lambda I, H: torch.nn.RNN(I, H, nonlinearity="relu", bidirectional=True, dtype=torch.float64),
    "lstm": lambda I, H: torch.nn.LSTM(I, H, bidirectional=True, dtype=torch.float64),
    "gru": lambda I, H: torch.nn.GRU(I, H, bidirectional=True, dtype=torch.float64),
}
PARAMS = {"w_ih": "weight_ih_l0", "w_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}


def reference_grads(problem) -> tuple[object, object]:
    return problem.forward(BACKEND, train=False), problem.backward(BACKEND)


@pytest.mark.parametrize("lengths", [None, [5, 2, 1, 4]], ids=["full", "packed"])
@pytest.mark.parametrize("cell", list(TORCH_MODULES))
def test_bidirectional_layer_matches_torch(cell, lengths):
    T, B, I, H = 5, 4, 3, 6
    forward = make_layer_problem(cell, T, B, I, H, lengths=lengths, seed=1)
    backward = make_layer_problem(cell, T, B, I, H, reverse=True, lengths=lengths, seed=2)
    backward.x = forward.x  # both directions read the same input
    module = TORCH_MODULES[cell](I, H)
    with torch.no_grad():
        for suffix, problem in (("", forward), ("_reverse", backward)):
            for ours, theirs in PARAMS.items():
                getattr(module, theirs + suffix).copy_(torch.from_numpy(getattr(problem.weights, ours)))
    lstm = cell == "lstm"
    x = torch.tensor(forward.x, requires_grad=True)
    h0 = torch.tensor(np.stack([forward.h0, backward.h0]), requires_grad=True)
    c0 = torch.tensor(np.stack([forward.c0, backward.c0]), requires_grad=True) if lstm else None
    state = (h0, c0) if lstm else h0
    if lengths is None:
        y, state_n = module(x, state)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        packed_y, state_n = module(packed, state)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_y, total_length=T)
    h_n, c_n = state_n if lstm else (state_n, None)
    loss = (y * torch.from_numpy(np.concatenate([forward.dy, backward.dy], axis=2))).sum()
    loss = loss + (h_n * torch.from_numpy(np.stack([forward.dh_n, backward.dh_n]))).sum()
    if lstm:
        loss = loss + (c_n * torch.from_numpy(np.stack([forward.dc_n, backward.dc_n]))).sum()
    loss.backward()

    dx = 0
    for d, (suffix, problem) in enumerate((("", forward), ("_reverse", backward))):
        result, grads = reference_grads(problem)
        name = f"{cell}{suffix}"
        assert_close(f"{name} y", result.y, y[..., d * H : (d + 1) * H].detach().numpy(), np.float64)
        assert_close(f"{name} h_n", result.h_n, h_n[d].detach().numpy(), np.float64)
        assert_close(f"{name} dh0", grads.dh0, h0.grad[d].numpy(), np.float64)
        if lstm:
            assert_close(f"{name} c_n", result.c_n, c_n[d].detach().numpy(), np.float64)
            assert_close(f"{name} dc0", grads.dc0, c0.grad[d].numpy(), np.float64)
        for ours, theirs in PARAMS.items():
            expected = getattr(module, theirs + suffix).grad.numpy()
            assert_close(f"{name} d{ours}", getattr(grads, "d" + ours), expected, np.float64)
        dx = dx + grads.dx
    assert_close(f"{cell} dx", dx, x.grad.numpy(), np.float64)


def torch_layer(cell, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, clip_gate):
    """The layer as a plain torch autograd loop; clip_gate is a clamp hook on every gate pre-activation."""

    def pre_activation(a):
        if clip_gate:
            a.register_hook(lambda grad: grad.clamp(-clip_gate, clip_gate))
        return a

    T = x.shape[0]
    xw = x @ w_ih.T + b_ih
    h, c = h0, c0
    ys = [None] * T
    for t in range(T - 1, -1, -1) if reverse else range(T):
        if cell in ("rnn_tanh", "rnn_relu", "lstm"):
            a = pre_activation(xw[t] + h @ w_hh.T + b_hh)
            if cell == "rnn_tanh":
                h_new, c_new = torch.tanh(a), None
            elif cell == "rnn_relu":
                h_new, c_new = torch.relu(a), None
            else:
                a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
                c_new = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
                h_new = torch.sigmoid(a_o) * torch.tanh(c_new)
        else:
            xw_r, xw_z, xw_n = xw[t].chunk(3, dim=1)
            w_hr, w_hz, w_hn = w_hh.chunk(3, dim=0)
            b_hr, b_hz, b_hn = b_hh.chunk(3, dim=0)
            r = torch.sigmoid(pre_activation(xw_r + h @ w_hr.T + b_hr))
            z = torch.sigmoid(pre_activation(xw_z + h @ w_hz.T + b_hz))
            if cell == "gru":
                a_n = pre_activation(xw_n + r * (h @ w_hn.T + b_hn))
            else:
                a_n = pre_activation(xw_n + (r * h) @ w_hn.T + b_hn)
            h_new, c_new = (1 - z) * torch.tanh(a_n) + z * h, None
        valid = torch.from_numpy(t < lengths)[:, None]
        ys[t] = torch.where(valid, h_new, 0.0)
        h = torch.where(valid, h_new, h)
        c = None if c is None else torch.where(valid, c_new, c)
    y = torch.stack(ys) if T else x.new_zeros((0, x.shape[1], h0.shape[1]))
    return y, h, c


@pytest.mark.parametrize("clip_gate", [0.0, 0.05], ids=["no-clip", "clip-gate"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_layer_matches_torch_autograd_with_gate_clamp_hooks(cell, reverse, clip_gate):
    problem = make_layer_problem(cell, 6, 4, 5, 7, reverse=reverse, lengths=[6, 0, 3, 5], clip_gate=clip_gate, seed=4)
    result, grads = reference_grads(problem)
    w = problem.weights
    inputs = dict(x=problem.x, h0=problem.h0, c0=problem.c0, w_ih=w.w_ih, w_hh=w.w_hh, b_ih=w.b_ih, b_hh=w.b_hh)
    tensors = {name: None if a is None else torch.tensor(a, requires_grad=True) for name, a in inputs.items()}
    y, h_n, c_n = torch_layer(cell, **tensors, lengths=problem.lengths, reverse=reverse, clip_gate=clip_gate)
    loss = (y * torch.from_numpy(problem.dy)).sum() + (h_n * torch.from_numpy(problem.dh_n)).sum()
    if c_n is not None:
        loss = loss + (c_n * torch.from_numpy(problem.dc_n)).sum()
    loss.backward()
    assert_close(f"{cell} y", result.y, y.detach().numpy(), np.float64)
    assert_close(f"{cell} h_n", result.h_n, h_n.detach().numpy(), np.float64)
    for name, tensor in tensors.items():
        if tensor is not None:
            assert_close(f"{cell} d{name}", getattr(grads, "d" + name), tensor.grad.numpy(), np.float64)
    if clip_gate:
        free = problem.backward(BACKEND, clip_gate=0.0)
        assert not np.allclose(free.dw_hh, grads.dw_hh), "clip_gate clamped nothing: the test would prove nothing"
