"""make_runner(impl, workload): a warmed-up callable timing one implementation on one workload.

Implementations: "fusedrnn-<backend>" through the public API and ``fr.use_backend``,
"torch" (torch.nn at the same thread count) and "onnxruntime" (inference only, the same
weights exported to ONNX). Everything but the timed step (weights, inputs, ONNX
export, sessions, numba JIT, first calls) happens in make_runner, untimed.
Shared by bench/ and ``python -m fusedrnn bench``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import platform
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import backends
from .threads import set_num_threads
from .workloads import Workload, gemm_flops

FUSEDRNN_IMPLS = tuple(f"fusedrnn-{name}" for name in backends.ORDER)
ADAPTER = "fusedrnn.torch"
"""fusedrnn.torch's modules, the drop-in torch.nn.LSTM / GRU / RNN, run on the cpp backend through autograd."""
PEERS = ("torch", "onnxruntime")
IMPLS = FUSEDRNN_IMPLS + (ADAPTER,) + PEERS

NUMPY_MAX_GFLOP = 6.0
"""The numpy reference is only timed on workloads up to this size (its per-step Python loop is slow)."""

_PEER_HINT = "pip install 'fusedrnn[bench]'"


class NotApplicable(Exception):
    """This implementation cannot (or, by design, does not) run this workload; str() says why."""


class NotInstalled(NotApplicable):
    """The implementation would run this workload, but it (or a peer library) is not installed here."""


@dataclass
class Runner:
    """One implementation on one workload, warmed up. ``runner()`` runs the timed step once.

    check(result) raises AssertionError unless the result is sane (finite, right shapes);
    output(result) is the output sequence y as a numpy array [T, B, D*H], for cross-checks.
    """

    impl: str
    workload: Workload
    threads: int
    step: Callable[[], Any]
    check: Callable[[Any], None]
    output: Callable[[Any], np.ndarray]

    def activate(self) -> None:
        """Set every thread pool to this runner's thread count (call before timing it)."""
        set_threads(self.threads)

    def __call__(self) -> Any:
        return self.step()


def import_torch_first() -> None:
    """Import torch (when installed) before anything is timed, in particular before a numba run.

    Imported after numba's OpenMP pool had started, torch ran its GRU and RNN steps several
    times slower on this machine (W5 at 2 threads: 170 ms against 22; W4: 215 against 60), which
    flattered every speed-up over it. Imported first, it runs at its own speed.
    """
    try:
        importlib.import_module("torch")
    except ImportError:
        pass


def set_threads(n: int) -> None:
    """One thread count for fusedrnn, every BLAS / OpenMP pool threadpoolctl sees, and torch."""
    set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)  # kept in force: no context manager, nothing restores it
    except ImportError:
        pass
    torch = sys.modules.get("torch")  # only if something imported it: importing torch costs seconds
    if torch is not None:
        torch.set_num_threads(n)


def why_not(impl: str, workload: Workload) -> str | None:
    """Why ``impl`` does not run ``workload`` here, or None when it does."""
    if impl not in IMPLS:
        raise ValueError(f"impl: expected one of {list(IMPLS)}, got {impl!r}")
    if impl == "fusedrnn-numpy" and workload.gflop > NUMPY_MAX_GFLOP:
        return f"numpy reference only timed up to {NUMPY_MAX_GFLOP:g} GFLOP (this: {workload.gflop:.1f})"
    if impl == "onnxruntime":
        if workload.train:
            return "ONNX Runtime runs inference workloads only"
        if workload.lengths is not None:
            return "variable lengths are not benchmarked on ONNX Runtime"
    return why_missing(impl)


def why_missing(impl: str) -> str | None:
    """Why ``impl`` (a fusedrnn backend, or a peer's libraries) is not installed here, or None."""
    if impl.startswith("fusedrnn-"):
        name = impl.removeprefix("fusedrnn-")
        reason = backends.why(name)
        return None if reason is None else f"backend {name!r} unavailable: {reason}"
    if impl == ADAPTER and backends.why("cpp") is not None:
        return f"backend 'cpp' unavailable: {backends.why('cpp')}"
    for module in _modules_for(impl):
        try:
            importlib.import_module(module)
        except ImportError as error:
            return f"{module} not installed ({error}; {_PEER_HINT})"
    return None


def _modules_for(impl: str) -> tuple[str, ...]:
    if impl in ("torch", ADAPTER):
        return ("torch",)
    try:  # our converter when it is there; otherwise the model is exported through torch
        importlib.import_module("fusedrnn.convert.onnx")
        return ("onnx", "onnxruntime")
    except ImportError:
        return ("onnx", "onnxruntime", "torch")


def make_params(workload: Workload, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch-named parameters, uniform in ±1/sqrt(H) as torch.nn initialises them."""
    rng = np.random.default_rng(seed)
    G, H, bound = workload.spec.gates, workload.H, 1.0 / np.sqrt(workload.H)
    params = {}
    for layer in range(workload.L):
        in_size = workload.I if layer == 0 else workload.D * H
        for suffix in ("", "_reverse")[: workload.D]:
            for name, shape in (("weight_ih", (G * H, in_size)), ("weight_hh", (G * H, H)),
                                ("bias_ih", (G * H,)), ("bias_hh", (G * H,))):
                params[f"{name}_l{layer}{suffix}"] = rng.uniform(-bound, bound, shape).astype(workload.dtype)
    return params


@dataclass(frozen=True)
class Data:
    """x: [T, B, I]; dy: [T, B, D*H] (training); lengths: [B] int64 or None."""

    x: np.ndarray
    dy: np.ndarray
    lengths: np.ndarray | None


def make_data(workload: Workload, seed: int = 1) -> Data:
    rng = np.random.default_rng(seed)
    w = workload
    x = rng.standard_normal((w.T, w.B, w.I)).astype(w.dtype)
    dy = rng.standard_normal((w.T, w.B, w.D * w.H)).astype(w.dtype)
    return Data(x, dy, w.lengths_array())


def make_runner(impl: str, workload: Workload, threads: int, *, warmup: int = 2) -> Runner:
    """A warmed-up runner; raises NotApplicable (with the reason) when ``impl`` cannot run ``workload``,
    NotInstalled when only a missing installation stops it."""
    reason = why_not(impl, workload)
    if reason is not None:
        raise (NotInstalled if reason == why_missing(impl) else NotApplicable)(reason)
    set_threads(threads)
    params, data = make_params(workload), make_data(workload)
    if impl.startswith("fusedrnn-"):
        parts = _fusedrnn(impl.removeprefix("fusedrnn-"), workload, params, data)
    elif impl in ("torch", ADAPTER):
        parts = _torch(workload, params, data, threads, adapter=impl == ADAPTER)
    else:
        parts = _onnxruntime(workload, params, data, threads)
    runner = Runner(impl, workload, threads, *parts)
    for _ in range(max(warmup, 1)):  # JIT, first-call allocations, caches: never timed
        runner.check(runner())
    return runner


# ---- sanity checks shared by every implementation -------------------------------------------

def _check_array(name: str, value: np.ndarray, shape: tuple[int, ...]) -> None:
    assert tuple(value.shape) == tuple(shape), f"{name}: expected shape {shape}, got {tuple(value.shape)}"
    assert np.isfinite(value).all(), f"{name}: expected finite values, got NaN or Inf"


def _output_shape(w: Workload) -> tuple[int, int, int]:
    return (w.T, w.B, w.D * w.H)


def _check_grads(w: Workload, dx: np.ndarray, dparams: dict[str, np.ndarray], params: dict[str, np.ndarray]):
    _check_array("dx", dx, (w.T, w.B, w.I))
    assert set(dparams) == set(params), f"gradients: expected {sorted(params)}, got {sorted(dparams)}"
    for name, grad in dparams.items():
        _check_array(f"d{name}", grad, params[name].shape)
    assert any(np.abs(g).max() > 0 for g in dparams.values()), "gradients: expected non-zero, got all zeros"


# ---- fusedrnn ----------------------------------------------------------------------------------

def _fusedrnn_model(workload: Workload):
    import fusedrnn as fr

    w = workload
    common = dict(num_layers=w.L, bidirectional=w.bidirectional, dtype=np.dtype(w.dtype))
    if w.cell == "lstm":
        return fr.LSTM(w.I, w.H, **common)
    if w.cell in ("gru", "gru_reset_before"):
        return fr.GRU(w.I, w.H, linear_before_reset=w.cell == "gru", **common)
    return fr.RNN(w.I, w.H, nonlinearity=w.cell.removeprefix("rnn_"), **common)


def _fusedrnn(backend: str, w: Workload, params, data: Data):
    import fusedrnn as fr

    model = _fusedrnn_model(w)
    model.load_state_dict(params)
    x, dy, lengths = data.x, data.dy, data.lengths

    if not w.train:
        frozen = model.frozen()  # inference on weights that no longer change, as an ONNX Runtime session

        def step():
            with fr.use_backend(backend):
                return frozen(x, lengths=lengths)[0]

        return step, lambda y: _check_array("y", y, _output_shape(w)), lambda y: y

    def step():
        with fr.use_backend(backend):
            y, _, tape = model.forward(x, lengths=lengths, train=True)
            return y, model.backward(tape, dy)

    def check(result):
        y, grads = result
        _check_array("y", y, _output_shape(w))
        _check_grads(w, grads.x, grads.params, params)

    return step, check, lambda result: result[0]


# ---- torch.nn ----------------------------------------------------------------------------------

def torch_module(workload: Workload, params: dict[str, np.ndarray], *, adapter: bool = False):
    """torch.nn.LSTM / GRU / RNN with these parameters (PyTorch's GRU is the linear-before-reset form);
    adapter: fusedrnn.torch's module of the same name instead."""
    import torch

    if adapter:
        from . import torch as nn
    else:
        nn = torch.nn
    w = workload
    common = dict(num_layers=w.L, bidirectional=w.bidirectional, dtype=getattr(torch, w.dtype))
    if w.cell == "lstm":
        module = nn.LSTM(w.I, w.H, **common)
    elif w.cell == "gru":
        module = nn.GRU(w.I, w.H, **common)
    elif w.cell in ("rnn_tanh", "rnn_relu"):
        module = nn.RNN(w.I, w.H, nonlinearity=w.cell.removeprefix("rnn_"), **common)
    else:
        raise NotApplicable(f"torch.nn has no {w.cell} cell")
    module.load_state_dict({name: torch.from_numpy(value.copy()) for name, value in params.items()})
    return module


def _cpp_backend():
    import fusedrnn as fr

    return fr.use_backend("cpp")


def _torch(w: Workload, params, data: Data, threads: int, *, adapter: bool = False):
    """torch.nn's module, or (adapter) fusedrnn.torch's on the cpp backend: the same calls either way."""
    import torch

    torch.set_num_threads(threads)
    module = torch_module(w, params, adapter=adapter)
    backend = _cpp_backend if adapter else contextlib.nullcontext  # the adapter as the fusedrnn-cpp runners
    x = torch.from_numpy(data.x)
    dy = torch.from_numpy(data.dy)
    lengths = None if data.lengths is None else torch.from_numpy(data.lengths)

    def run(inp):
        with backend():
            if lengths is None:
                return module(inp)[0]
            # what a PyTorch user does with ragged batches: pack, run, pad back
            packed = torch.nn.utils.rnn.pack_padded_sequence(inp, lengths, enforce_sorted=False)
            return torch.nn.utils.rnn.pad_packed_sequence(module(packed)[0], total_length=w.T)[0]

    if not w.train:
        module.eval()

        def step():
            with torch.inference_mode():
                return run(x)

        return step, lambda y: _check_array("y", y.numpy(), _output_shape(w)), lambda y: y.numpy()

    x.requires_grad_(True)

    def step():
        module.zero_grad(set_to_none=True)
        x.grad = None
        y = run(x)
        y.backward(dy)
        return y, x.grad, {name: p.grad for name, p in module.named_parameters()}

    def check(result):
        y, dx, dparams = result
        _check_array("y", y.detach().numpy(), _output_shape(w))
        _check_grads(w, dx.numpy(), {k: v.numpy() for k, v in dparams.items()}, params)

    return step, check, lambda result: result[0].detach().numpy()


# ---- ONNX Runtime ------------------------------------------------------------------------------

def onnx_model_bytes(workload: Workload, params: dict[str, np.ndarray]) -> bytes:
    """The model as ONNX: fusedrnn.convert.onnx.to_onnx_model when present, else torch.onnx.export."""
    try:
        from .convert.onnx import to_onnx_model
    except ImportError:
        to_onnx_model = None
    if to_onnx_model is not None:
        model = _fusedrnn_model(workload)
        model.load_state_dict(params)
        return to_onnx_model(model, dtype=np.dtype(workload.dtype), initial_state=False).SerializeToString()
    import torch

    module = torch_module(workload, params).eval()
    example = torch.zeros(workload.T, workload.B, workload.I, dtype=getattr(torch, workload.dtype))
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter warns about itself and about batch sizes
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer, dynamo=False, input_names=["x"], output_names=["y"])
    return buffer.getvalue()


def _onnxruntime(w: Workload, params, data: Data, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(onnx_model_bytes(w, params), options, providers=["CPUExecutionProvider"])
    feeds = _onnx_feeds(session, w, data)
    y_name = session.get_outputs()[0].name

    def step():
        return session.run([y_name], feeds)[0]

    def output(y):
        # ONNX RNN ops return [T, D, B, H]; a converter may already have reshaped it to [T, B, D*H]
        return y.transpose(0, 2, 1, 3).reshape(_output_shape(w)) if y.ndim == 4 else y

    return step, lambda y: _check_array("y", output(y), _output_shape(w)), output


def _onnx_feeds(session, w: Workload, data: Data) -> dict[str, np.ndarray]:
    """x for the first input; full lengths / zero initial states for any further graph input."""
    inputs = session.get_inputs()
    feeds = {inputs[0].name: data.x}
    for extra in inputs[1:]:
        if "int" in extra.type:
            feeds[extra.name] = np.full(w.B, w.T, dtype=np.int32 if "int32" in extra.type else np.int64)
        else:
            feeds[extra.name] = np.zeros((w.L * w.D, w.B, w.H), dtype=w.dtype)
    return feeds


# ---- where the numbers come from --------------------------------------------------------------

def environment() -> dict:
    """Versions, backends, CPU and cores: what a results table must say about its machine."""
    import fusedrnn

    versions = {"fusedrnn": fusedrnn.__version__, "numpy": np.__version__, "python": platform.python_version()}
    for module in ("torch", "onnxruntime", "onnx", "numba", "threadpoolctl"):
        try:
            versions[module] = importlib.import_module(module).__version__
        except ImportError:
            versions[module] = None
    return {
        "versions": versions,
        "backends": {name: backends.why(name) or "available" for name in backends.ORDER},
        "cpu": _cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def cpu_steal_seconds() -> float | None:
    """CPU time the hypervisor gave other guests so far, all cores together (Linux /proc/stat's
    steal column), or None where unknown. Two readings around a run tell how much of the machine
    it did not get: a sequential benchmark cannot see that in its own timings."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK") if fields[0] == "cpu" and len(fields) > 8 else None
    except (OSError, ValueError, IndexError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---- the GEMM ceiling --------------------------------------------------------------------------

def make_gemm_runner(m: int, k: int, n: int, dtype: str, threads: int):
    """numpy.matmul of (m, k) x (k, n) at ``threads`` BLAS threads, warmed up.

    Returns (step, check, flops): check(out) compares a corner of the product with float64 math.
    """
    set_threads(threads)
    rng = np.random.default_rng(2)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype=dtype)

    def step():
        return np.matmul(a, b, out=out)

    def check(result: np.ndarray) -> None:
        _check_array("gemm", result, (m, n))
        corner = a[:4].astype(np.float64) @ b[:, :4].astype(np.float64)
        tol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-10
        assert np.allclose(result[:4, :4], corner, rtol=tol, atol=tol * np.sqrt(k)), "gemm: wrong product"

    check(step())
    return step, check, gemm_flops(m, k, n)
