"""bench/interleaved.py: paired ratios, and a smoke run end to end."""

import os
import re

import pytest
from interleaved import Pair, main
from native import two_cpus


def require_peers():
    for module in ("torch", "onnxruntime"):
        if os.environ.get("CI"):
            __import__(module)  # the test extras install both: missing in CI is a failure
        else:
            pytest.importorskip(module)


def test_speedup_is_the_median_of_each_rounds_ratio():
    # The machine slows down 3x halfway: per-round ratios stay 2, the ratio of medians would not.
    pair = Pair("W3", "torch", 1.15, ours_s=[1.0, 1.0, 3.0, 3.0, 3.0], theirs_s=[2.0, 2.0, 6.0, 6.0, 6.0])
    assert pair.speedup == pytest.approx(2.0)
    assert Pair("W3", "torch", 1.15, [1.0, 2.0, 3.0], [2.0, 2.0, 9.0]).speedup == pytest.approx(2.0)


def test_smoke_run_prints_every_target_of_the_workloads(capsys):
    require_peers()
    assert main(["--size", "smoke", "--rounds", "2", "--threads", "1", "--workloads", "W3,W8"]) == 0
    out = capsys.readouterr().out
    assert "| W3 | ≥ 1.15x torch |" in out
    assert "| W8 | ≥ 2x onnxruntime |" in out and "| W8 | ≥ 4x torch |" in out
    assert "A cache line between two cores" not in out  # one thread: no pair of cores to measure


@pytest.mark.skipif(not two_cpus(2), reason="the latency between two cores needs two CPUs")
def test_two_threads_end_with_the_latency_between_two_cores(capsys):
    require_peers()
    assert main(["--size", "smoke", "--rounds", "1", "--threads", "2", "--workloads", "W8"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    before, after = (float(v) for v in re.findall(r"(\d+) ns", last))
    assert last.startswith("A cache line between two cores, one way:") and 0 < before < 1e6 and 0 < after < 1e6


def test_unknown_workload_is_an_error_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--workloads", "W99"])
    assert caught.value.code == 2
    assert "--workloads: expected names from" in capsys.readouterr().err
