"""Training steps (forward + backward, every gradient) of W3..W7 and W9: one table per workload."""

import pytest
from runners import IMPLS
from workloads import TRAINING

PLAIN = [name for name in TRAINING if "-" not in name]

TRAINING_IMPLS = [impl for impl in IMPLS if impl != "onnxruntime"]  # ONNX Runtime: inference only


@pytest.mark.parametrize("impl", TRAINING_IMPLS)
@pytest.mark.parametrize("workload", PLAIN)
def test_training(time_workload, workload, impl, threads):
    time_workload(impl, workload, threads)
