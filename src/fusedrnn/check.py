"""fr.check(): a backend against the numpy reference on random problems, as a table of relative errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import backends, network
from .cells import CELLS
from .types import Clip
from .weights import init_params, param_shapes

# Relative error bounds ||a - b|| / ||b|| a backend must meet against the reference (DESIGN.md).
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


@dataclass(frozen=True)
class CheckRow:
    backend: str
    cell: str
    dtype: str
    case: str
    forward_error: float    # worst relative error over y and the final states
    backward_error: float   # worst relative error over every gradient and the norm
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.forward_error <= self.tolerance and self.backward_error <= self.tolerance


class CheckReport(list):
    """A list of CheckRow that prints as a table."""

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self)

    def __str__(self) -> str:
        header = f"{'backend':<8} {'cell':<17} {'dtype':<8} {'case':<28} {'forward':>9} {'backward':>9} {'tol':>7}  ok"
        lines = [header, "-" * len(header)]
        for r in self:
            lines.append(
                f"{r.backend:<8} {r.cell:<17} {r.dtype:<8} {r.case:<28} {r.forward_error:9.1e} "
                f"{r.backward_error:9.1e} {r.tolerance:7.0e}  {'yes' if r.passed else 'NO'}"
            )
        failed = sum(not row.passed for row in self)
        lines.append(f"{len(self) - failed} passed, {failed} failed")
        return "\n".join(lines)


# (description, num_layers, bidirectional, bias, variable lengths, clip)
_CASES = [
    ("1 layer", 1, False, True, False, Clip()),
    ("2 layers, bidirectional", 2, True, True, False, Clip()),
    ("lengths, no bias", 1, True, False, True, Clip()),
    ("clip max_norm+value+gate", 2, False, True, True, Clip(max_norm=0.5, value=0.05, gate_value=0.02)),
]


def _rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = np.linalg.norm(expected)
    diff = np.linalg.norm(actual - expected)
    return float(diff / scale) if scale > 0 else float(diff)


def _run(backend: str, config, params, x, h0, c0, lengths, dy, clip):
    y, h_n, c_n, tape = network.forward(config, params, x, h0, c0, lengths, train=True, backend=backend)
    dc_n = np.ones_like(c_n) if c_n is not None else None
    grads = network.backward(tape, params, dy, np.ones_like(h_n), dc_n, clip)
    outputs = {"y": y, "h_n": h_n, **({"c_n": c_n} if c_n is not None else {})}
    gradients = {"dx": grads.dx, "dh0": grads.dh0, **grads.params, "norm": np.array(grads.norm)}
    if grads.dc0 is not None:
        gradients["dc0"] = grads.dc0
    return outputs, gradients


def check(backend: str | None = None, *, seed: int = 0, T: int = 7, B: int = 3, I: int = 9, H: int = 17) -> CheckReport:
    """Compare ``backend`` (default: the current one) with the numpy reference on random problems.

    Every cell, float32 and float64, and the cases in ``_CASES`` (layers, directions, lengths,
    no bias, each clip mode). Returns a CheckReport; ``report.passed`` says whether every
    relative error is within DESIGN.md's tolerance, ``print(report)`` shows the table.
    """
    name = backends.get(backend).name
    rng = np.random.default_rng(seed)
    report = CheckReport()
    for cell in CELLS.values():
        for dtype in TOLERANCE:
            for case, layers, bidirectional, bias, ragged, clip in _CASES:
                config = network.Config(cell, I, H, layers, bidirectional, bias)
                shapes = param_shapes(cell, I, H, layers, bidirectional, bias)
                params = init_params(shapes, H, dtype, int(rng.integers(2**31)))
                D = config.num_directions
                x = rng.standard_normal((T, B, I)).astype(dtype)
                h0 = (0.5 * rng.standard_normal((layers * D, B, H))).astype(dtype)
                c0 = (0.5 * rng.standard_normal((layers * D, B, H))).astype(dtype) if cell.has_cell_state else None
                lengths = rng.integers(0, T + 1, B) if ragged else np.full(B, T)
                dy = rng.standard_normal((T, B, D * H)).astype(dtype)
                args = (config, params, x, h0, c0, lengths.astype(np.int64), dy, clip)
                expected_out, expected_grad = _run("numpy", *args)
                actual_out, actual_grad = _run(name, *args)
                forward_error = max(_rel_err(actual_out[k], v) for k, v in expected_out.items())
                backward_error = max(_rel_err(actual_grad[k], v) for k, v in expected_grad.items())
                report.append(CheckRow(name, cell.name, dtype.name, case, forward_error, backward_error, TOLERANCE[dtype]))
    return report
