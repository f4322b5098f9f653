"""Inference workloads (W1 and W8 at batch 1, W2 at batch 64, one step per call): every implementation,
one table per workload."""

import pytest
from runners import IMPLS
from workloads import INFERENCE


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("workload", INFERENCE)
def test_inference(time_workload, workload, impl, threads):
    time_workload(impl, workload, threads)
