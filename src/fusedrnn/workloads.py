"""The named, fixed benchmark workloads (W1..W9 and variants) and their FLOP counts.

Shared by ``bench/`` (pytest-benchmark) and ``python -m fusedrnn bench``, so both time
exactly the same problems. Shape letters: T steps, B batch, I input, H hidden,
G gates per cell, L layers, D directions.

FLOPs count only the matrix products, 2*M*N*K per GEMM, per layer and direction
(I_l = I for layer 0, D*H above it):
  forward   input projection (T*B, I_l) x (I_l, G*H)       2*T*B*I_l*G*H
            recurrent product, each step (B, H) x (H, G*H)  2*T*B*H*G*H
  backward  dx = dA . W_ih                                   2*T*B*G*H*I_l
            dW_ih = dA^T . x                                 2*T*B*G*H*I_l
            dh_{t-1} = dA_t . W_hh, each step                2*T*B*G*H*H
            dW_hh = dA^T . h_{t-1}                           2*T*B*G*H*H
so backward = 2 x forward and a training step = 3 x forward. Gate math, biases and
clipping are not counted. With variable lengths only valid steps are counted
(T*B replaced by sum(lengths)).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .cells import CELLS, CellSpec

_KIND = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN(tanh)", "rnn_relu": "RNN(relu)"}


@dataclass(frozen=True)
class Workload:
    """One benchmark problem.

    cell:    a fusedrnn.cells name ("lstm", "gru", "rnn_tanh", ...)
    train:   False = inference forward; True = training step (forward with tape +
             backward producing every gradient: x, initial state, all parameters)
    lengths: None = every sequence has T steps; "uniform-half" = lengths drawn
             uniformly in [T/2, T] with a fixed seed (see ``lengths_array``)
    """

    name: str
    cell: str
    T: int
    B: int
    I: int
    H: int
    L: int = 1
    D: int = 1
    train: bool = False
    dtype: str = "float32"
    lengths: str | None = None
    note: str = ""

    @property
    def spec(self) -> CellSpec:
        return CELLS[self.cell]

    @property
    def bidirectional(self) -> bool:
        return self.D == 2

    def lengths_array(self) -> np.ndarray | None:
        """[B] int64 lengths, or None. Fixed seed: every run and every implementation sees the same."""
        if self.lengths is None:
            return None
        if self.lengths != "uniform-half":
            raise ValueError(f"lengths: expected None or 'uniform-half', got {self.lengths!r}")
        rng = np.random.default_rng(12345)
        lengths = rng.integers(self.T // 2, self.T + 1, size=self.B).astype(np.int64)
        lengths[0] = self.T  # the padded length T is always present, as in a real batch
        return lengths

    def steps(self) -> int:
        """Valid (t, b) steps: T*B, or sum(lengths)."""
        lengths = self.lengths_array()
        return self.T * self.B if lengths is None else int(lengths.sum())

    def forward_flops(self) -> int:
        G, H = self.spec.gates, self.H
        total = 0
        for layer in range(self.L):
            in_size = self.I if layer == 0 else self.D * H
            total += self.D * 2 * self.steps() * G * H * (in_size + H)
        return total

    def flops(self) -> int:
        """GEMM FLOPs of one timed call: forward, or forward + backward (= 3 x forward)."""
        return self.forward_flops() * (3 if self.train else 1)

    @property
    def gflop(self) -> float:
        return self.flops() / 1e9

    def gemm_shapes(self) -> list[tuple[str, int, int, int]]:
        """The dominant GEMMs of layer 0 as (role, M, K, N): M x K times K x N."""
        G, H = self.spec.gates, self.H
        shapes = [("input projection", self.T * self.B, self.I, G * H), ("recurrent step", self.B, H, G * H)]
        if self.train:
            shapes.append(("weight gradient", G * H, self.T * self.B, self.I))
        return shapes

    def describe(self) -> str:
        what = _KIND.get(self.cell, self.cell)
        if self.L > 1 or self.D > 1:
            what += f" {self.L} layer{'s' if self.L > 1 else ''}{' bidirectional' if self.D == 2 else ''}"
        size = f"I=H={self.H}" if self.I == self.H else f"I={self.I} H={self.H}"
        text = f"{what} T={self.T} B={self.B} {size} {'training step' if self.train else 'inference'}"
        if self.dtype != "float32":
            text += f", {self.dtype}"
        if self.lengths == "uniform-half":
            text += ", lengths uniform in [T/2, T]"
        return text

    def shrunk(self) -> Workload:
        """A tiny version with the same structure, for smoke runs (every code path, little time)."""
        return dataclasses.replace(self, T=min(self.T, 6), B=min(self.B, 3), I=min(self.I, 16), H=min(self.H, 16))


def _all() -> dict[str, Workload]:
    lstm_train = dict(cell="lstm", T=50, B=32, I=256, H=256, train=True)
    workloads = [
        Workload("W1", "lstm", T=100, B=1, I=256, H=256, note="batch-1 streaming inference"),
        Workload("W2", "lstm", T=100, B=64, I=256, H=256),
        Workload("W3", **lstm_train),
        Workload("W4", **{**lstm_train, "cell": "gru"}),
        Workload("W5", **{**lstm_train, "cell": "rnn_tanh"}),
        Workload("W6", "lstm", T=100, B=64, I=512, H=512, train=True),
        Workload("W7", **lstm_train, L=2, D=2),
        Workload("W8", "gru", T=100, B=1, I=256, H=256, note="batch-1 streaming inference"),
        Workload("W9", "lstm", T=1000, B=16, I=128, H=128, train=True, note="long sequence"),
        Workload("W3-f64", **lstm_train, dtype="float64"),
        Workload("W3-varlen", **lstm_train, lengths="uniform-half",
                 note="PyTorch runs it with pack_padded_sequence"),
        # One step per call, as in generating token by token: what a call costs besides its arithmetic.
        *(Workload(f"step-{cell}-{H}", cell, T=1, B=1, I=H, H=H, note="one step per call")
          for cell, H in (("lstm", 64), ("lstm", 256), ("gru", 256))),
    ]
    return {w.name: w for w in workloads}


WORKLOADS: dict[str, Workload] = _all()
"""Every named workload, in report order."""

QUICK: tuple[str, ...] = ("W1", "W3", "W8")
"""The subset ``python -m fusedrnn bench`` runs without --full."""

INFERENCE = tuple(name for name, w in WORKLOADS.items() if not w.train)
TRAINING = tuple(name for name, w in WORKLOADS.items() if w.train)


def batch_sweep(batches: tuple[int, ...] = (1, 4, 16, 64)) -> dict[str, Workload]:
    """LSTM T=50 I=H=256 inference at several batch sizes: time per step against B."""
    return {f"S-B{b}": Workload(f"S-B{b}", "lstm", T=50, B=b, I=256, H=256, note="batch sweep") for b in batches}


def gemm_flops(m: int, k: int, n: int) -> int:
    """FLOPs of one (m, k) x (k, n) product."""
    return 2 * m * k * n
