"""bench/after_idle.py: a smoke run end to end, the table, and its argument errors."""

import os
import re

import pytest
from after_idle import main, table


def test_table_gives_the_median_of_each_call_over_rounds():
    times = {("W1", "fusedrnn-cpp"): [[0.004, 0.001, 0.002], [0.001, 0.001, 0.003]]}
    assert table(times).splitlines() == [
        "| workload | implementation | 1st call ms | 2nd call ms |",
        "|---|---|---:|---:|",
        "| W1 | fusedrnn-cpp | 2 | 1 |",
    ]


def test_smoke_run_prints_a_row_per_implementation(capsys):
    for module in ("torch", "onnxruntime"):
        if os.environ.get("CI"):
            __import__(module)  # the test extras install both: missing in CI is a failure
        else:
            pytest.importorskip(module)
    assert main(["--size", "smoke", "--rounds", "2", "--calls", "3", "--pause", "0.01", "--threads", "1",
                 "--workloads", "W8"]) == 0
    out = capsys.readouterr().out
    assert "2 rounds at 1 thread, size smoke, each after a 0.01 s pause" in out
    for impl in ("fusedrnn-cpp", "onnxruntime", "torch"):
        row = re.search(rf"^\| W8 \| {impl} \| ([\d.e+-]+) \| ([\d.e+-]+) \| ([\d.e+-]+) \|$", out, re.MULTILINE)
        assert row, out
        assert all(float(value) > 0 for value in row.groups())


def test_a_peer_that_cannot_run_the_workload_is_reported_and_fails_the_run(capsys):
    assert main(["--size", "smoke", "--rounds", "1", "--pause", "0", "--workloads", "W3",
                 "--impls", "fusedrnn-cpp,onnxruntime"]) == 1  # ONNX Runtime has no training step
    captured = capsys.readouterr()
    assert "W3: onnxruntime not run:" in captured.err
    assert "| W3 | fusedrnn-cpp |" in captured.out


@pytest.mark.parametrize("argv, message", [
    (["--workloads", "W99"], "--workloads: expected names from"),
    (["--impls", "jax"], "--impls: expected names from"),
    (["--calls", "0"], "expected positive ints and --pause >= 0"),
    (["--pause", "-1"], "expected positive ints and --pause >= 0"),
])
def test_bad_arguments_are_errors_naming_the_argument(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
