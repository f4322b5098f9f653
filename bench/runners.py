"""make_runner(impl, workload, threads) for bench/: the runners live in fusedrnn.bench_runners,
shared with `python -m fusedrnn bench`, so both time exactly the same calls."""

from fusedrnn.bench_runners import (
    IMPLS,
    NotApplicable,
    NotInstalled,
    cpu_steal_seconds,
    environment,
    import_torch_first,
    Runner,
    make_gemm_runner,
    make_runner,
    set_threads,
    why_not,
)

__all__ = ["IMPLS", "NotApplicable", "NotInstalled", "cpu_steal_seconds", "environment", "import_torch_first", "Runner", "make_gemm_runner", "make_runner", "set_threads", "why_not"]
