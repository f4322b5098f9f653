"""report.py on a hand-made pytest-benchmark JSON: ratios to torch, fraction of the ceiling, scaling, kept notes."""

import json
import sys

import report
from runners import cpu_steal_seconds


def bench(kind, median, **extra):
    return {"stats": {"median": median}, "extra_info": {"kind": kind, "size": "full", **extra}}


def workload(impl, threads, median, name="W3"):
    return bench("workload", median, workload=name, impl=impl, threads=threads, gflop=5.0, dtype="float32",
                 describe="LSTM T=50 B=32 I=H=256 training step")


def alternation(impl, threads, ratio):
    return bench("alternation", 0.1, workload="W3-varlen", against="W3", impl=impl, threads=threads, ratio=ratio,
                 rounds=9, median_ms={"W3-varlen": 40.0, "W3": 50.0})


def test_report(tmp_path):
    data = {
        "machine_info": {"fusedrnn_bench": {"command": "pytest bench", "note": "noisy", "cpu": "X", "cores": 2,
                                            "steal": {"seconds": 6.0, "wall": 100.0}}},
        "datetime": "2026-11-23",
        "benchmarks": [
            workload("fusedrnn-cpp", 2, 0.050), workload("torch", 2, 0.100), workload("fusedrnn-numba", 2, 0.160),
            workload("fusedrnn-cpp", 1, 0.090), workload("torch", 1, 0.150), workload("fusedrnn-numba", 1, 0.240),
            bench("gemm", 0.1, m=2048, k=2048, n=2048, dtype="float32", threads=2, gflop=10.0, roles="square"),
            bench("gemm", 0.2, m=2048, k=2048, n=2048, dtype="float32", threads=1, gflop=10.0, roles="square"),
        ],
    }
    source, out = tmp_path / "b.json", tmp_path / "RESULTS.md"
    source.write_text(json.dumps(data))
    out.write_text("old figures\n" + report.KEEP_MARKER + "\nhand-written GEMM notes\n")
    assert report.main([str(source), "-o", str(out)]) == 0
    text = out.read_text()
    assert "old figures" not in text and text.endswith(report.KEEP_MARKER + "\nhand-written GEMM notes\n")
    assert "> **noisy**" in text and "    pytest bench" in text
    assert "hypervisor steal 6.0 s of 100 s x 2 cores (3.0%)" in text
    # 2 threads: 5 GFLOP in 50 ms = 100 GFLOP/s against a 100 GFLOP/s ceiling; torch is 2x slower
    assert "| fusedrnn-cpp | 50 | 2.00x | 100.0 | 1.00 |" in text
    assert "| W3 | ≥ 1.15x torch | 2.00x | yes |" in text
    # issue 3: numba at 160 ms is 3.2x the time of cpp, and W4/W5 were not run
    assert "| W3 | ≤ 3x the time of fusedrnn-cpp | 3.20x | **no** |" in text and "faster than torch" not in text
    assert "| W3 | 1.80 | 1.50 | 1.50 |" in text  # thread scaling t(1)/t(2): 90/50, 240/160, 150/100


def test_steal_is_said_to_be_unmeasured_where_it_was_not():
    assert report._steal(None, 2) == "hypervisor steal not measured"
    assert report._steal({"seconds": 1.0, "wall": 0.0}, 2) == "hypervisor steal not measured"


def test_steal_reading_is_seconds_that_never_go_back():
    first, second = cpu_steal_seconds(), cpu_steal_seconds()
    if not sys.platform.startswith("linux"):
        assert first is None
        return
    assert isinstance(first, float) and 0 <= first <= second


def test_varlen_against_padded_prefers_the_alternating_calls(tmp_path):
    def targets(benchmarks):
        source = tmp_path / "b.json"
        source.write_text(json.dumps({"benchmarks": benchmarks}))
        return report._targets(report.Results(report.load([source])[1]), 2)

    separate = [workload("fusedrnn-cpp", 2, 0.050), workload("fusedrnn-cpp", 2, 0.057, name="W3-varlen"),
                workload("fusedrnn-numba", 2, 0.100), workload("fusedrnn-numba", 2, 0.080, name="W3-varlen")]
    rows = targets(separate)
    assert "| W3-varlen | ≤ 0.9 x time of W3 padded (fusedrnn-cpp, separate tests) | 1.14 | **no** |" in rows
    assert "| W3-varlen | ≤ 0.9 x time of W3 padded (fusedrnn-numba, separate tests) | 0.80 | yes |" in rows
    # the alternating calls' ratio wins where there is one (at the top thread count only)
    rows = targets(separate + [alternation("fusedrnn-cpp", 2, 0.74), alternation("fusedrnn-numba", 1, 0.95)])
    assert "| W3-varlen | ≤ 0.9 x time of W3 padded (fusedrnn-cpp, calls alternating) | 0.74 | yes |" in rows
    assert "| W3-varlen | ≤ 0.9 x time of W3 padded (fusedrnn-numba, separate tests) | 0.80 | yes |" in rows
    # an alternation entry is not a workload's median
    results = report.Results(report.load([tmp_path / "b.json"])[1])
    assert ("W3-varlen", "fusedrnn-cpp", 2) in results.median and results.threads == [2]
    # a run of the alternating test alone still gives the row
    rows = targets([alternation("fusedrnn-cpp", 2, 0.80)])
    assert "| W3-varlen | ≤ 0.9 x time of W3 padded (fusedrnn-cpp, calls alternating) | 0.80 | yes |" in rows
