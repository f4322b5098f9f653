"""fusedrnn.torch against torch.nn with identical weights: outputs, final states and every gradient.

Covers every cell torch has, layers, directions, batch_first, bias=False, hx given or
omitted, unbatched input, PackedSequence (sorted and unsorted), dropout (eval mode against
torch; training mode for reproducibility and gradients), gradients only where needed,
optimizer steps, state_dicts both ways, gradcheck, and bad input. The reset-before GRU has
no torch twin: it is checked against fusedrnn.GRU(linear_before_reset=False).
Everything runs on the default backend and on the numpy reference (gradcheck in full on the
reference, in fast mode on the default backend).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import pickle
import subprocess
import sys
import weakref

import numpy as np
import pytest

import fusedrnn as fr
from tolerance import assert_close
from torch_oracle import import_torch

torch = import_torch()
import fusedrnn.torch as frt  # noqa: E402 -- after import_torch, which skips outside CI when torch is missing

from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence  # noqa: E402

CELLS = {
    "lstm": (frt.LSTM, torch.nn.LSTM, {}),
    "gru": (frt.GRU, torch.nn.GRU, {}),
    "rnn_tanh": (frt.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (frt.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
}
DTYPE = {torch.float32: np.float32, torch.float64: np.float64}


@pytest.fixture(params=["default", "numpy"])
def on_backend(request):
    """Run the test on the default backend, then on the numpy reference."""
    if request.param == "default":
        yield
    else:
        with fr.use_backend(request.param):
            yield


def twins(cell, *args, dtype=torch.float64, **kwargs):
    """(ours, torch's): same configuration, torch's default-initialised weights loaded into ours."""
    ours_cls, torch_cls, extra = CELLS[cell]
    theirs = torch_cls(*args, dtype=dtype, **extra, **kwargs)
    ours = ours_cls(*args, dtype=dtype, **extra, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def leaf(shape, dtype, gen, scale=1.0):
    return (scale * torch.randn(shape, dtype=dtype, generator=gen)).requires_grad_()


def states_of(cell, L, B, H, dtype, gen, batched=True):
    """hx for `cell`: h_0, or (h_0, c_0) for an LSTM, as leaves; shapes (L, B, H) or (L, H)."""
    shape = (L, B, H) if batched else (L, H)
    states = tuple(leaf(shape, dtype, gen, 0.5) for _ in range(2 if cell == "lstm" else 1))
    return states if cell == "lstm" else states[0]


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def run(module, x, hx, x_leaf=None, seed=0):
    """Forward, a loss weighting every output at random, backward; named NumPy arrays of all results.

    x_leaf: the tensor whose .grad is the input's gradient (x itself, or what was packed into x).
    """
    x_leaf = x if x_leaf is None else x_leaf
    for t in [x_leaf, *(flat(hx) if hx is not None else [])]:
        t.grad = None
    module.zero_grad(set_to_none=True)
    out, final = module(x, hx)
    y = out.data if isinstance(out, PackedSequence) else out
    gen = torch.Generator().manual_seed(seed)
    loss = sum((t * torch.randn(t.shape, dtype=t.dtype, generator=gen)).sum() for t in [y, *flat(final)])
    loss.backward()
    results = {"y": y, "x.grad": x_leaf.grad}
    results.update({f"state{k}": t for k, t in enumerate(flat(final))})
    if hx is not None:
        results.update({f"state{k}.grad": s.grad for k, s in enumerate(flat(hx))})
    results.update({f"{name}.grad": p.grad for name, p in module.named_parameters()})
    return {name: t.detach().numpy() for name, t in results.items() if t is not None}, out


def assert_all_close(ours, theirs, dtype):
    assert set(ours) == set(theirs)
    for name in theirs:
        assert_close(name, ours[name], theirs[name], DTYPE[dtype])


CONFIGS = [
    pytest.param(dict(), torch.float64, True, id="1layer"),
    pytest.param(dict(num_layers=2, bidirectional=True), torch.float64, False, id="2layers-bidir-hx_omitted"),
    pytest.param(dict(num_layers=3, batch_first=True), torch.float64, True, id="3layers-batch_first"),
    pytest.param(dict(bidirectional=True, bias=False, batch_first=True), torch.float64, True,
                 id="bidir-nobias-batch_first"),
    pytest.param(dict(num_layers=2, bidirectional=True), torch.float32, True, id="float32-2layers-bidir"),
    pytest.param(dict(num_layers=2, dropout=0.5), torch.float64, True, id="dropout-eval"),
]


@pytest.mark.parametrize("config, dtype, with_hx", CONFIGS)
@pytest.mark.parametrize("cell", list(CELLS))
def test_outputs_and_gradients_match_torch(cell, config, dtype, with_hx, on_backend):
    gen = torch.Generator().manual_seed(1)
    ours, theirs = twins(cell, 5, 7, **config, dtype=dtype)
    if config.get("dropout"):
        ours.eval()
        theirs.eval()
    T, B, D = 6, 4, 2 if config.get("bidirectional") else 1
    x = leaf((B, T, 5) if config.get("batch_first") else (T, B, 5), dtype, gen)
    hx = states_of(cell, ours.num_layers * D, B, 7, dtype, gen) if with_hx else None
    assert_all_close(run(ours, x, hx)[0], run(theirs, x, hx)[0], dtype)


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("cell", list(CELLS))
def test_packed_sequence_matches_torch(cell, enforce_sorted, on_backend):
    gen = torch.Generator().manual_seed(2)
    ours, theirs = twins(cell, 3, 5, num_layers=2, bidirectional=True, batch_first=True)
    lengths = torch.tensor([6, 6, 4, 2, 1] if enforce_sorted else [4, 6, 1, 6, 2])
    padded = leaf((5, 6, 3), torch.float64, gen)
    hx = states_of(cell, 4, 5, 5, torch.float64, gen)

    def pack():  # one pack per run: each backward frees the pack's own graph
        return pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=enforce_sorted)

    mine, out = run(ours, pack(), hx, padded)
    reference, expected = run(theirs, pack(), hx, padded)
    assert_all_close(mine, reference, torch.float64)
    assert isinstance(out, PackedSequence)
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        a, b = getattr(out, field), getattr(expected, field)
        assert (a is None and b is None) or torch.equal(a, b), field


@pytest.mark.parametrize("cell", list(CELLS))
def test_unbatched_input_matches_torch(cell):
    gen = torch.Generator().manual_seed(3)
    ours, theirs = twins(cell, 4, 3, num_layers=2, bidirectional=True, batch_first=True)
    x = leaf((5, 4), torch.float64, gen)
    hx = states_of(cell, 4, None, 3, torch.float64, gen, batched=False)
    mine, out = run(ours, x, hx)
    assert out.shape == (5, 6)
    assert_all_close(mine, run(theirs, x, hx)[0], torch.float64)


def test_reset_before_gru_matches_fusedrnn_gru(on_backend):
    gen = torch.Generator().manual_seed(4)
    ours = frt.GRU(4, 5, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64,
                   linear_before_reset=False)
    assert "linear_before_reset=False" in repr(ours)
    model = fr.GRU(4, 5, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64,
                   linear_before_reset=False)
    model.load_state_dict(ours.state_dict())
    x, h0 = leaf((3, 6, 4), torch.float64, gen), leaf((4, 3, 5), torch.float64, gen)
    y, h_n = ours(x, h0)
    dy = torch.randn(y.shape, dtype=torch.float64, generator=gen)
    dh = torch.randn(h_n.shape, dtype=torch.float64, generator=gen)
    ((y * dy).sum() + (h_n * dh).sum()).backward()

    y_ref, h_ref, tape = model.forward(x.detach().numpy(), h0.detach().numpy(), train=True)
    grads = model.backward(tape, dy.numpy(), dh.numpy())
    assert_close("y", y.detach().numpy(), y_ref, np.float64)
    assert_close("h_n", h_n.detach().numpy(), h_ref, np.float64)
    assert_close("x.grad", x.grad.numpy(), grads.x, np.float64)
    assert_close("h0.grad", h0.grad.numpy(), grads.state, np.float64)
    for name, p in ours.named_parameters():
        assert_close(f"{name}.grad", p.grad.numpy(), grads.params[name], np.float64)


def test_default_init_and_state_dicts_match_torch_both_ways():
    for cell in CELLS:
        torch.manual_seed(5)
        theirs = CELLS[cell][1](3, 4, 2, bidirectional=True, **CELLS[cell][2])
        torch.manual_seed(5)
        ours = CELLS[cell][0](3, 4, 2, bidirectional=True, **CELLS[cell][2])
        shapes = [(n, p.shape) for n, p in ours.named_parameters()]
        assert shapes == [(n, p.shape) for n, p in theirs.named_parameters()]
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
            assert torch.equal(a, b), f"{cell} {name}: default init differs from torch.nn's under the same seed"
        with torch.no_grad():
            for p in ours.parameters():
                p.mul_(2.0)
        theirs.load_state_dict(ours.state_dict())  # ours -> torch.nn, strict
        back = CELLS[cell][0](3, 4, 2, bidirectional=True, **CELLS[cell][2])
        back.load_state_dict(theirs.state_dict())  # torch.nn -> ours, strict
        for (name, a), b, c in zip(ours.state_dict().items(), theirs.state_dict().values(), back.parameters()):
            assert torch.equal(a, b) and torch.equal(a, c), name
        extra = ", nonlinearity='relu'" if cell == "rnn_relu" else ""  # torch's repr leaves it out
        assert repr(ours) == repr(theirs)[:-1] + extra + ")"


def test_dtype_conversion_follows_the_module():
    gen = torch.Generator().manual_seed(6)
    ours, theirs = twins("lstm", 3, 4, dtype=torch.float32)
    ours.double()
    theirs.double()
    x = leaf((5, 2, 3), torch.float64, gen)
    assert_all_close(run(ours, x, None)[0], run(theirs, x, None)[0], torch.float64)


def test_optimizer_steps_match_torch(on_backend):
    gen = torch.Generator().manual_seed(7)
    ours, theirs = twins("gru", 3, 6, num_layers=2, bidirectional=True)
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (ours, theirs)]
    for step in range(3):
        x = torch.randn(5, 4, 3, dtype=torch.float64, generator=gen)
        for module, optimizer in zip((ours, theirs), optimizers):
            optimizer.zero_grad()
            y, h = module(x)
            (y.square().mean() + h.sum()).backward()
            optimizer.step()
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(name, a.detach().numpy(), b.detach().numpy(), np.float64)


def test_gradients_only_where_needed(on_backend):
    gen = torch.Generator().manual_seed(8)
    ours, theirs = twins("lstm", 3, 4, num_layers=2)
    for module in (ours, theirs):
        module.weight_hh_l1.requires_grad_(False)
    x = torch.randn(4, 2, 3, dtype=torch.float64, generator=gen)            # no gradient wanted
    hx = (leaf((2, 2, 4), torch.float64, gen), torch.zeros(2, 2, 4, dtype=torch.float64))
    mine = run(ours, x, hx)[0]
    assert "x.grad" not in mine and "state1.grad" not in mine and "weight_hh_l1.grad" not in mine
    assert_all_close(mine, run(theirs, x, hx)[0], torch.float64)

    # The autograd node itself returns None for every input that needs no gradient.
    y, (h_n, c_n) = ours(x, hx)
    grads = y.grad_fn.apply(torch.ones_like(y), torch.ones_like(h_n), torch.ones_like(c_n))
    names = ["config", "views", "seed", "x", "h0", "c0", "lengths", "rows", *ours._flat_weights_names]
    missing = {name for name, g in zip(names, grads, strict=True) if g is None}
    assert missing == {"config", "views", "seed", "x", "c0", "lengths", "rows", "weight_hh_l1"}


@pytest.mark.parametrize("cell", list(CELLS))
def test_an_empty_batch_gives_what_torch_gives(cell):
    """B = 0, as torch.nn: empty output and states of its shapes; after backward, every parameter's and
    given state's gradient is zeros (not None), and the input's is empty."""
    gen = torch.Generator().manual_seed(12)
    ours, theirs = twins(cell, 3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = leaf((0, 5, 3), torch.float64, gen)
    for hx in (None, states_of(cell, 4, 0, 4, torch.float64, gen)):
        mine, out = run(ours, x, hx)
        expected = run(theirs, x, hx)[0]
        assert {name: a.shape for name, a in mine.items()} == {name: a.shape for name, a in expected.items()}
        assert_all_close(mine, expected, torch.float64)
        assert out.grad_fn is not None
    assert all(p.grad is not None and not p.grad.any() for p in ours.parameters())
    with torch.no_grad():
        y, _ = ours(x)
    assert y.grad_fn is None and y.shape == (0, 5, 8)
    with pytest.raises(ValueError, match=r"h_0: expected shape \(4, 0, 4\)"):
        ours(x, states_of(cell, 4, 2, 4, torch.float64, gen))


def test_autocast_changes_neither_dtype_nor_result():
    """Under CPU autocast (bfloat16) the module computes in float32, as outside it, with the same bits."""
    gen = torch.Generator().manual_seed(13)
    ours = frt.LSTM(3, 4, num_layers=2)
    x = leaf((5, 2, 3), torch.float32, gen)
    y, (h, c) = ours(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ya, (ha, ca) = ours(x)
    assert ya.dtype == ha.dtype == ca.dtype == torch.float32
    assert torch.equal(ya, y) and torch.equal(ha, h) and torch.equal(ca, c)


def test_inference_keeps_no_graph_and_gives_the_same_outputs(on_backend):
    gen = torch.Generator().manual_seed(9)
    ours = frt.GRU(3, 4, num_layers=2, dtype=torch.float64)
    x = leaf((5, 2, 3), torch.float64, gen)
    y, h = ours(x)
    with torch.no_grad():
        y0, h0 = ours(x)
    assert y0.grad_fn is None and h0.grad_fn is None
    assert torch.equal(y0, y) and torch.equal(h0, h)


# Dynamo reads .grad of the tensors the module returns when it takes them back into its frame; at the default
# warning filters that stays silent.
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning")
@pytest.mark.parametrize("compile_backend", ["eager", "aot_eager"])
def test_torch_compile_runs_the_module_as_is_between_its_graphs(compile_backend, on_backend):
    gen = torch.Generator().manual_seed(14)
    lstm = frt.LSTM(3, 4, num_layers=2, batch_first=True)
    head = torch.nn.Linear(4, 2)

    def model(x):
        y, (h, c) = lstm(torch.tanh(x))
        return head(y).sum() + h.sum() * c.mean()

    def loss_and_grads(fn, x):
        x = x.detach().clone().requires_grad_(True)
        loss = fn(x)
        params = [x, *lstm.parameters(), *head.parameters()]
        return [loss.detach(), *torch.autograd.grad(loss, params)]

    x = leaf((2, 5, 3), torch.float32, gen)
    torch._dynamo.reset()
    compiled = loss_and_grads(torch.compile(model, backend=compile_backend), x)
    names = ["loss", "x", *(f"lstm.{n}" for n, _ in lstm.named_parameters()), "head.weight", "head.bias"]
    for name, got, want in zip(names, compiled, loss_and_grads(model, x), strict=True):
        assert_close(name, got.numpy(), want.numpy(), np.float32)
    torch._dynamo.reset()
    assert torch._dynamo.explain(model)(x).graph_break_count == 1  # at the module's call, none inside it
    with pytest.raises(torch._dynamo.exc.Unsupported, match="fusedrnn's kernels run outside torch's graphs"):
        torch.compile(model, backend="eager", fullgraph=True)(x)
    torch._dynamo.reset()


def test_dropout_in_training_is_reproducible_and_differentiable():
    gen = torch.Generator().manual_seed(10)
    ours = frt.LSTM(2, 2, num_layers=3, dropout=0.5, dtype=torch.float64)
    x = leaf((3, 2, 2), torch.float64, gen)

    def forward():
        torch.manual_seed(11)
        return ours(x)[0]

    y1, y2 = forward(), forward()
    assert torch.equal(y1, y2)
    with torch.no_grad():
        assert torch.equal(forward(), y1)                  # the no-graph path draws the same masks
    torch.manual_seed(12)
    assert not torch.equal(ours(x)[0], y1)
    ours.eval()
    assert not torch.equal(ours(x)[0], y1)
    ours.train()
    names = list(ours._flat_weights_names)

    def f(x, *params):
        torch.manual_seed(11)
        return torch.func.functional_call(ours, dict(zip(names, params)), (x,))[0]

    assert torch.autograd.gradcheck(f, (x, *ours.parameters()), fast_mode=True)


@pytest.mark.parametrize(
    "backend, fast_mode",
    [
        pytest.param("numpy", False, id="numpy-full"),
        # Fast mode (random projections of the Jacobian) keeps the call count low on the default
        # backend: thousands of tiny multi-threaded calls are slow on a loaded machine.
        pytest.param(None, True, id="default-fast"),
    ],
)
@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_reset_before", "rnn_relu"])
def test_gradcheck(cell, backend, fast_mode):
    gen = torch.Generator().manual_seed(13)
    if cell == "gru_reset_before":
        module = frt.GRU(2, 2, 2, bidirectional=True, dtype=torch.float64, linear_before_reset=False)
    else:
        module = CELLS[cell][0](2, 2, 2, bidirectional=True, dtype=torch.float64, **CELLS[cell][2])
    names = list(module._flat_weights_names)
    x = leaf((3, 2, 2), torch.float64, gen)
    states = flat(states_of(cell, 4, 2, 2, torch.float64, gen))

    def f(x, *rest):
        hx = tuple(rest[: len(states)]) if cell == "lstm" else rest[0]
        params = dict(zip(names, rest[len(states):]))
        y, final = torch.func.functional_call(module, params, (x, hx))
        return (y, *flat(final))

    with fr.use_backend(backend) if backend else contextlib.nullcontext():
        assert torch.autograd.gradcheck(f, (x, *states, *module.parameters()), fast_mode=fast_mode)


def test_contiguous_tensors_are_read_in_place(on_backend):
    ours = frt.LSTM(3, 4, num_layers=2, bidirectional=True)
    x, h0 = torch.randn(5, 2, 3, requires_grad=True), torch.randn(4, 2, 4, requires_grad=True)
    y, _ = ours(x, (h0, torch.zeros(4, 2, 4)))
    node = y.grad_fn                                          # the autograd node is the Function's ctx
    for name, p in ours.named_parameters():
        assert np.shares_memory(node.arrays[name], p.detach().numpy()), f"{name} was copied"
    first = node.tape.layers[0][0]
    assert np.shares_memory(first.x, x.detach().numpy()), "x was copied"
    assert np.shares_memory(first.h0, h0.detach().numpy()), "h0 was copied"


def _same_inference(ours, theirs, x, label):
    with torch.no_grad():
        (y, final), (y_torch, final_torch) = ours(x), theirs(x)
        for k, (a, b) in enumerate(zip([y, *flat(final)], [y_torch, *flat(final_torch)])):
            assert_close(f"{label} output {k}", a.numpy(), b.numpy(), np.float64)


def test_parameters_changed_in_any_way_between_calls_are_read_afresh(on_backend):
    """The module keeps its parameters' NumPy views between calls (modules.py _parameter_views): every way
    of changing a parameter reaches the next call, including those torch's version counter misses."""
    gen = torch.Generator().manual_seed(15)
    ours, theirs = twins("rnn_tanh", 4, 4, num_layers=2)  # a square W_hh: its transpose has its shape
    x = torch.randn(3, 2, 4, dtype=torch.float64, generator=gen)
    changes = {
        "in place through .data": lambda m: m.weight_ih_l0.data.mul_(-0.5),
        "through NumPy": lambda m: m.bias_hh_l1.detach().numpy().__setitem__(0, 0.7),
        ".data a new tensor": lambda m: setattr(m.weight_hh_l0, "data", m.weight_hh_l0.data * 2 - 0.1),
        ".data its transpose (not contiguous)": lambda m: setattr(m.weight_hh_l1, "data", m.weight_hh_l1.data.t()),
        ".data contiguous again": lambda m: setattr(m.weight_hh_l1, "data", m.weight_hh_l1.data.contiguous()),
        "a new Parameter": lambda m: setattr(m, "weight_ih_l1", torch.nn.Parameter(m.weight_ih_l1.detach() + 0.2)),
    }
    _same_inference(ours, theirs, x, "at first")
    for label, change in changes.items():
        with torch.no_grad():
            change(ours)
            change(theirs)
        _same_inference(ours, theirs, x, label)
        assert_all_close(run(ours, x.clone().requires_grad_(), None)[0],
                         run(theirs, x.clone().requires_grad_(), None)[0], torch.float64)


def test_copies_and_pickles_keep_no_views_of_the_parameters(on_backend):
    gen = torch.Generator().manual_seed(16)
    ours, theirs = twins("lstm", 3, 5)
    x = torch.randn(4, 2, 3, dtype=torch.float64, generator=gen)
    _same_inference(ours, theirs, x, "original")
    assert ours._views_cache is not None
    for label, other in (("deepcopy", copy.deepcopy(ours)), ("pickle", pickle.loads(pickle.dumps(ours)))):
        assert other._views_cache is None, label
        _same_inference(other, theirs, x, label)
        with torch.no_grad():
            other.weight_hh_l0.data.mul_(0.5)
        with torch.no_grad():
            assert not torch.equal(other(x)[0], ours(x)[0]), f"{label}: the copy's change was not seen"
    _same_inference(ours, theirs, x, "original after its copies changed")


def test_a_replaced_parameters_memory_is_freed_at_the_next_call(on_backend):
    """The kept views hold a parameter's memory until a call finds it replaced (README), no longer."""
    ours = frt.LSTM(3, 4)
    x = torch.randn(2, 1, 3)
    memory = ours.weight_hh_l0.detach().numpy().copy()
    ours.weight_hh_l0.data = torch.from_numpy(memory)      # the parameter's memory is this array
    alive = weakref.ref(memory)
    del memory
    with torch.no_grad():
        ours(x)
    ours.weight_hh_l0.data = torch.zeros(16, 4)
    gc.collect()
    assert alive() is not None, "the kept views should still hold the old memory before a call"
    with torch.no_grad():
        ours(x)
    gc.collect()
    assert alive() is None, "the old memory outlived the call that replaced its views"


def test_caller_tensors_are_never_modified_and_in_place_changes_are_caught(on_backend):
    gen = torch.Generator().manual_seed(14)
    ours = frt.LSTM(3, 4, bidirectional=True, dtype=torch.float64)
    x, hx = leaf((5, 2, 3), torch.float64, gen), states_of("lstm", 2, 2, 4, torch.float64, gen)
    before = [t.detach().clone() for t in (x, *hx, *ours.parameters())]
    y, (h_n, c_n) = ours(x, hx)
    (y.sum() + h_n.sum()).backward(retain_graph=True)
    first = x.grad.clone()
    (y.sum() + h_n.sum()).backward()                         # retain_graph: the tape is still there
    assert torch.allclose(x.grad, 2 * first)
    for a, b in zip(before, (x, *hx, *ours.parameters())):
        assert torch.equal(a, b)

    y, _ = ours(x, hx)
    with torch.no_grad():
        x.add_(1.0)                                           # the tape reads x's memory
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    y, _ = ours(x, hx)
    y.mul_(2.0)                                               # y may share memory with the tape
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize(
    "make, call, error, match",
    [
        pytest.param(lambda: frt.LSTM(3, 4, proj_size=2), None, ValueError, r"proj_size: expected 0", id="proj_size"),
        pytest.param(lambda: frt.GRU(3, 4, dtype=torch.float16), None, TypeError, r"weight_ih_l0: expected dtype",
                     id="float16"),
        pytest.param(lambda: frt.RNN(3, 4, nonlinearity="gelu"), None, ValueError, r"nonlinearity: expected",
                     id="nonlinearity"),
        pytest.param(lambda: frt.GRU(3, 0), None, ValueError, r"hidden_size: expected a positive int", id="H=0"),
        pytest.param(lambda: frt.GRU(3, 4, dropout=1.0), None, ValueError, r"dropout: expected", id="dropout=1"),
        pytest.param(lambda: frt.GRU(3, 4, device="meta"), None, ValueError, r"expected a CPU tensor",
                     id="device-meta"),
        pytest.param(lambda: frt.GRU(3, 4, dtype=torch.float64),
                     lambda m: m(torch.zeros(2, 2, 3, dtype=torch.float32)), TypeError,
                     r"input: expected dtype torch.float64", id="input-dtype"),
        pytest.param(lambda: frt.GRU(3, 4, dtype=torch.float64),
                     lambda m: m(torch.zeros(2, 2, 2, 3, dtype=torch.float64)), ValueError,
                     r"input: expected 3 dimensions", id="input-4d"),
        pytest.param(lambda: frt.GRU(3, 4, dtype=torch.float64),
                     lambda m: m(torch.zeros(2, 2, 5, dtype=torch.float64)), ValueError,
                     r"input: expected I = input_size = 3", id="input-I"),
        pytest.param(lambda: frt.GRU(3, 4), lambda m: m(torch.zeros(0, 2, 3)), ValueError,
                     r"input: expected at least one time step, got T=0", id="input-T0"),
        pytest.param(lambda: frt.GRU(3, 4, dtype=torch.float64),
                     lambda m: m(torch.zeros(2, 2, 3, dtype=torch.float64, device="meta")), ValueError,
                     r"input: expected a CPU tensor", id="input-meta"),
        pytest.param(lambda: frt.GRU(3, 4, dtype=torch.float64),
                     lambda m: m(torch.zeros(2, 2, 3, dtype=torch.float64), torch.zeros(1, 2, 5, dtype=torch.float64)),
                     ValueError, r"h_0: expected shape \(1, 2, 4\)", id="hx-shape"),
        pytest.param(lambda: frt.GRU(3, 4, dtype=torch.float64),
                     lambda m: m(torch.zeros(2, 2, 3, dtype=torch.float64), (torch.zeros(1, 2, 4),) * 2),
                     TypeError, r"hx: expected a single tensor", id="gru-hx-pair"),
        pytest.param(lambda: frt.LSTM(3, 4, dtype=torch.float64),
                     lambda m: m(torch.zeros(2, 2, 3, dtype=torch.float64), torch.zeros(1, 2, 4, dtype=torch.float64)),
                     TypeError, r"hx: expected a pair", id="lstm-hx-single"),
        pytest.param(lambda: frt.LSTM(3, 4, dtype=torch.float64),
                     lambda m: m(torch.zeros(2, 2, 3, dtype=torch.float64),
                                 (torch.zeros(1, 2, 4, dtype=torch.float64), torch.zeros(1, 2, 4))),
                     TypeError, r"c_0: expected dtype torch.float64", id="lstm-c0-dtype"),
        pytest.param(lambda: frt.LSTM(3, 4).half(), lambda m: m(torch.zeros(2, 2, 3, dtype=torch.float16)),
                     TypeError, r"weight_ih_l0: expected dtype", id="module-half"),
        pytest.param(lambda: frt.GRU(3, 4), lambda m: (setattr(m.weight_hh_l0, "data", torch.zeros(3, 3)),
                                                       m(torch.zeros(2, 2, 3))),
                     ValueError, r"weight_hh_l0: expected shape \(12, 4\), got \(3, 3\)", id="parameter-shape"),
        pytest.param(lambda: frt.LSTM(3, 4), lambda m: (setattr(m.bias_ih_l0, "data", torch.zeros(1, 16)),
                                                        m(torch.zeros(2, 2, 3))),
                     ValueError, r"bias_ih_l0: expected shape \(16,\), got \(1, 16\)", id="parameter-bias-2d"),
        pytest.param(lambda: frt.GRU(3, 4), lambda m: m(PackedSequence(torch.zeros(3, 1, 3), torch.tensor([2, 1]))),
                     ValueError, r"input.data: expected 2 dimensions \(N, I\)", id="packed-data-3d"),
        pytest.param(lambda: frt.GRU(3, 4), lambda m: m(PackedSequence(torch.zeros(4, 3), torch.tensor([2, 1]))),
                     ValueError, r"input.batch_sizes: expected .* summing to the 4 rows", id="packed-sizes-sum"),
        pytest.param(lambda: frt.GRU(3, 4), lambda m: m(PackedSequence(torch.zeros(3, 3), torch.tensor([1, 2]))),
                     ValueError, r"input.batch_sizes: expected positive non-increasing", id="packed-sizes-increasing"),
        pytest.param(lambda: frt.GRU(3, 4), lambda m: m(PackedSequence(torch.zeros(3, 5), torch.tensor([2, 1]))),
                     ValueError, r"input: expected I = input_size = 3 features, got input.data of shape \(3, 5\)",
                     id="packed-I"),
    ],
)
def test_bad_input_raises_a_clear_error(make, call, error, match):
    with pytest.raises(error, match=match):
        module = make()
        if call is not None:
            call(module)


def test_import_fusedrnn_never_imports_torch_and_fusedrnn_torch_says_how_to_get_it():
    script = (
        "import sys\n"
        "import fusedrnn\n"
        "assert 'torch' not in sys.modules, 'import fusedrnn imported torch'\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "try:\n"
        "    import fusedrnn.torch\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install torch" in result.stdout
