"""bench/interleaved.py: paired ratios, and a smoke run end to end."""

import os

import pytest
from interleaved import Pair, main


def test_speedup_is_the_median_of_each_rounds_ratio():
    # The machine slows down 3x halfway: per-round ratios stay 2, the ratio of medians would not.
    pair = Pair("W3", "torch", 1.15, ours_s=[1.0, 1.0, 3.0, 3.0, 3.0], theirs_s=[2.0, 2.0, 6.0, 6.0, 6.0])
    assert pair.speedup == pytest.approx(2.0)
    assert Pair("W3", "torch", 1.15, [1.0, 2.0, 3.0], [2.0, 2.0, 9.0]).speedup == pytest.approx(2.0)


def test_smoke_run_prints_every_target_of_the_workloads(capsys):
    for module in ("torch", "onnxruntime"):
        if os.environ.get("CI"):
            __import__(module)  # the test extras install both: missing in CI is a failure
        else:
            pytest.importorskip(module)
    assert main(["--size", "smoke", "--rounds", "2", "--threads", "1", "--workloads", "W3,W8"]) == 0
    out = capsys.readouterr().out
    assert "| W3 | ≥ 1.15x torch |" in out
    assert "| W8 | ≥ 2x onnxruntime |" in out and "| W8 | ≥ 4x torch |" in out


def test_unknown_workload_is_an_error_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--workloads", "W99"])
    assert caught.value.code == 2
    assert "--workloads: expected names from" in capsys.readouterr().err
