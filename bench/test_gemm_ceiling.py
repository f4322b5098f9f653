"""The machine's ceiling: numpy.matmul throughput on each workload's dominant GEMM shapes and one large square.

report.py divides each workload's GFLOP/s by the large square product's rate (same dtype, same
thread count): the fraction of the GEMM ceiling it reaches.
"""

import pytest
from runners import make_gemm_runner, set_threads
from workloads import WORKLOADS, sized

import conftest

SQUARE = {"full": 2048, "smoke": 64}


def cases(size: str) -> dict[tuple[int, int, int, str], str]:
    """(m, k, n, dtype) -> what it stands for; each shape once."""
    n = SQUARE[size]
    found = {(n, n, n, "float32"): "square", (n, n, n, "float64"): "square"}
    for name in WORKLOADS:
        workload = sized(name, size)
        for role, m, k, n_ in workload.gemm_shapes():
            key = (m, k, n_, workload.dtype)
            found[key] = f"{found[key]}, {name} {role}" if key in found else f"{name} {role}"
    return found


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        size = conftest.bench_size(metafunc.config)
        items = list(cases(size).items())
        metafunc.parametrize("case", items, ids=[f"{m}x{k}x{n}-{dt}" for (m, k, n, dt), _ in items])


def test_gemm(benchmark, case, threads, request):
    (m, k, n, dtype), roles = case
    step, check, flops = make_gemm_runner(m, k, n, dtype, threads)
    benchmark.group = f"GEMM numpy.matmul threads={threads}"
    benchmark.extra_info.update(kind="gemm", m=m, k=k, n=n, dtype=dtype, threads=threads, roles=roles,
                                gflop=flops / 1e9, size=conftest.bench_size(request.config))
    set_threads(threads)
    rounds = 20 if flops < 2e9 else 5
    check(benchmark.pedantic(step, rounds=rounds, iterations=1 if flops > 1e7 else 20, warmup_rounds=1))
