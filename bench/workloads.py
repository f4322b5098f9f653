"""The benchmark workloads, as bench/ uses them: fusedrnn.workloads (shared with `python -m fusedrnn bench`)
plus the smoke-run shrinking.

FLOPs are counted as fusedrnn.workloads explains: 2*M*N*K per GEMM, forward and backward
separately (backward = 2 x forward), pointwise gate math not counted.
"""

from __future__ import annotations

from fusedrnn.workloads import INFERENCE, QUICK, TRAINING, WORKLOADS, Workload, batch_sweep, gemm_flops

SIZES = ("full", "smoke")
"""full: the real workloads. smoke: each shrunk to T<=6, B<=3, I,H<=16 (same cell, layers, options)."""


def sized(name: str, size: str) -> Workload:
    """Workload ``name`` at ``size`` ("full" or "smoke")."""
    if size not in SIZES:
        raise ValueError(f"size: expected one of {SIZES}, got {size!r}")
    workload = WORKLOADS[name]
    return workload if size == "full" else workload.shrunk()


__all__ = ["INFERENCE", "QUICK", "SIZES", "TRAINING", "WORKLOADS", "Workload", "batch_sweep", "gemm_flops", "sized"]
