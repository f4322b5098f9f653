"""bench/training_floor.py: the C floor compiles and runs, and the table has every training target against torch."""

import subprocess

import pytest

from native import compile_for_this_machine
from training_floor import main, products_rate


def test_products_floor_gives_a_rate_and_refuses_bad_counts(tmp_path):
    exe = compile_for_this_machine("products_floor", str(tmp_path))
    assert 0 < products_rate(exe, 1) < 1e5  # GFLOP/s of one core: far under 100 TFLOP/s
    done = subprocess.run([exe, "0", "5"], capture_output=True, text=True)
    assert done.returncode == 2 and "expected positive counts" in done.stderr


def test_prints_every_training_target_against_torch(capsys):
    assert main(["--size", "smoke", "--rounds", "1", "--workloads", "W3,W4,W5,W6,W7,W9"]) == 0
    out = capsys.readouterr().out
    for row in ("| W3 |", "≥ 1.15x torch", "| W6 |", "| W7 |", "≥ 1.1x torch", "| W4 |", "| W5 |", "≥ 1.5x torch",
                "| W9 |", "≥ 1.3x torch", "GFLOP/s (bench/products_floor.c"):
        assert row in out


@pytest.mark.parametrize("argv,message", [(["--workloads", "W1"], "--workloads: expected some of"),
                                          (["--workloads", "W3-f64"], "--workloads: expected some of"),
                                          (["--rounds", "0"], "--threads and --rounds")])
def test_bad_arguments_are_errors_naming_them(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
