"""Hypothesis strategies: layer_problems() draws one layer-and-direction problem for the Backend protocol.

A LayerProblem holds every input of layer_forward / layer_backward (inputs scaled like a
PyTorch-initialised layer, so float32 comparisons stay well conditioned) and runs them on
any backend. make_layer_problem() builds one directly, for tests that fix the shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from fusedrnn.cells import CELLS, CellSpec
from fusedrnn.types import LayerGrads, LayerResult, LayerWeights

SIZES = (1, 7, 8, 9, 15, 16, 17, 31, 32, 33)  # straddle SIMD widths
SMALL_SIZES = (1, 7, 8, 9)


@dataclass
class LayerProblem:
    """x: [T, B, I]  h0, c0, dh_n, dc_n: [B, H]  dy: [T, B, H]  lengths: [B] int64."""

    cell: CellSpec
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    weights: LayerWeights
    lengths: np.ndarray
    reverse: bool
    dy: np.ndarray
    dh_n: np.ndarray
    dc_n: np.ndarray | None
    clip_gate: float = 0.0
    clip_value: float = 0.0
    seed: int = 0

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype

    def forward(self, backend, train: bool) -> LayerResult:
        return backend.layer_forward(
            self.cell, self.x, self.h0, self.c0, self.weights, self.lengths, reverse=self.reverse, train=train
        )

    def backward(self, backend, clip_gate: float | None = None, clip_value: float | None = None) -> LayerGrads:
        """Training forward then backward on one backend (the clip limits default to the problem's)."""
        tape = self.forward(backend, train=True).tape
        return backend.layer_backward(
            self.cell,
            tape,
            self.dy,
            self.dh_n,
            self.dc_n,
            clip_gate=self.clip_gate if clip_gate is None else clip_gate,
            clip_value=self.clip_value if clip_value is None else clip_value,
        )

    def inputs(self) -> dict[str, np.ndarray]:
        """Every input array by name (for checking that a backend leaves them unchanged)."""
        arrays = dict(x=self.x, h0=self.h0, c0=self.c0, lengths=self.lengths)
        arrays.update(dy=self.dy, dh_n=self.dh_n, dc_n=self.dc_n)
        arrays.update(w_ih=self.weights.w_ih, w_hh=self.weights.w_hh, b_ih=self.weights.b_ih, b_hh=self.weights.b_hh)
        return {name: a for name, a in arrays.items() if a is not None}

    def __repr__(self) -> str:
        T, B, I = self.x.shape
        return (
            f"LayerProblem({self.cell.name}, T={T}, B={B}, I={I}, H={self.h0.shape[1]}, {self.dtype}, "
            f"reverse={self.reverse}, lengths={self.lengths.tolist()}, bias={self.weights.bias}, "
            f"clip_gate={self.clip_gate}, clip_value={self.clip_value}, seed={self.seed})"
        )


def make_layer_problem(
    cell: CellSpec | str,
    T: int,
    B: int,
    I: int,
    H: int,
    *,
    dtype=np.float64,
    reverse: bool = False,
    lengths=None,
    bias: bool = True,
    clip_gate: float = 0.0,
    clip_value: float = 0.0,
    seed: int = 0,
) -> LayerProblem:
    """Random problem with PyTorch's init scale for weights (U(±1/√H)), N(0, 1) x and dy, N(0, 0.5²) states."""
    cell = CELLS[cell] if isinstance(cell, str) else cell
    rng = np.random.default_rng(seed)
    G = cell.gates
    k = 1 / np.sqrt(H)

    def uniform(*shape):
        return rng.uniform(-k, k, shape).astype(dtype)

    def normal(scale, *shape):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    weights = LayerWeights(
        w_ih=uniform(G * H, I),
        w_hh=uniform(G * H, H),
        b_ih=uniform(G * H) if bias else np.zeros(G * H, dtype),
        b_hh=uniform(G * H) if bias else np.zeros(G * H, dtype),
        bias=bias,
    )
    lstm = cell.has_cell_state
    lengths = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)
    assert lengths.shape == (B,) and lengths.min(initial=0) >= 0 and lengths.max(initial=0) <= T
    return LayerProblem(
        cell=cell,
        x=normal(1.0, T, B, I),
        h0=normal(0.5, B, H),
        c0=normal(0.5, B, H) if lstm else None,
        weights=weights,
        lengths=lengths,
        reverse=reverse,
        dy=normal(1.0, T, B, H),
        dh_n=normal(1.0, B, H),
        dc_n=normal(1.0, B, H) if lstm else None,
        clip_gate=clip_gate,
        clip_value=clip_value,
        seed=seed,
    )


def sizes() -> st.SearchStrategy[int]:
    """I or H: mostly small (for speed), about one draw in four at the SIMD edges 15/16/17, 31/32/33."""
    return st.sampled_from(SMALL_SIZES * 3 + SIZES)


@st.composite
def layer_problems(draw, cells=tuple(CELLS), dtypes=(np.float32, np.float64), clipping: bool = True) -> LayerProblem:
    """cell, T >= 0, B >= 1, I, H, dtype, direction, lengths (zeros included), bias, clip modes."""
    cell = draw(st.sampled_from(cells))
    T = draw(st.sampled_from((1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 9, 12)))
    B = draw(st.sampled_from((1, 2, 3, 4, 1, 2, 3, 4, 7)))
    lengths = None
    if draw(st.booleans()):
        lengths = draw(st.lists(st.integers(0, T), min_size=B, max_size=B))
    # Gate gradients are O(0.1) at this scale: 0.05 clamps some of them, 0.5 rarely any.
    clip_gate = draw(st.sampled_from((0.0, 0.0, 0.05, 0.5))) if clipping else 0.0
    clip_value = draw(st.sampled_from((0.0, 0.0, 0.1, 1.0))) if clipping else 0.0
    return make_layer_problem(
        cell,
        T,
        B,
        draw(sizes()),
        draw(sizes()),
        dtype=draw(st.sampled_from(dtypes)),
        reverse=draw(st.booleans()),
        lengths=lengths,
        bias=draw(st.booleans()) if draw(st.integers(0, 3)) == 0 else True,
        clip_gate=clip_gate,
        clip_value=clip_value,
        seed=draw(st.integers(0, 2**32 - 1)),
    )
