"""Variants of W3 from issue 5: float64, and lengths uniform in [T/2, T] (PyTorch: pack_padded_sequence).

Issue 5 also asks W3-varlen to take at most 0.9x the time of W3 padded (finished rows cost nothing):
test_varlen_against_padded times the two with their calls alternating, for bench/report.py's ratio.
"""

import pytest
from runners import IMPLS
from workloads import TRAINING

VARIANTS = [name for name in TRAINING if "-" in name]

TRAINING_IMPLS = [impl for impl in IMPLS if impl != "onnxruntime"]  # ONNX Runtime: inference only


@pytest.mark.parametrize("impl", TRAINING_IMPLS)
@pytest.mark.parametrize("workload", VARIANTS)
def test_variant(time_workload, workload, impl, threads):
    time_workload(impl, workload, threads)


@pytest.mark.parametrize("impl", [impl for impl in TRAINING_IMPLS if impl.startswith("fusedrnn-")])
def test_varlen_against_padded(time_alternation, impl, threads):
    time_alternation(impl, "W3-varlen", "W3", threads)
