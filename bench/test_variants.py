"""Variants of W3 from issue 5: float64, and lengths uniform in [T/2, T] (PyTorch: pack_padded_sequence).

Compare W3-varlen with W3 (test_training.py) in the same run: finished rows should cost nothing.
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
