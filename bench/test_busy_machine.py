"""bench/busy_machine.py: the per-round ratio, argument errors, and a smoke run end to end."""

import pytest
from busy_machine import Scaling, main


def test_ratio_is_the_median_of_each_rounds_ratio():
    # The machine slows down 3x halfway: each round's ratio stays 0.5.
    s = Scaling("W3", "fusedrnn-cpp", one_s=[2.0, 2.0, 6.0, 6.0, 6.0], two_s=[1.0, 1.0, 3.0, 3.0, 3.0])
    assert s.ratio == pytest.approx(0.5)


@pytest.mark.parametrize("argv, message", [(["--workloads", "W99"], "--workloads: expected names from"),
                                           (["--impls", "torch"], "--impls: expected fusedrnn-cpp among them"),
                                           (["--impls", "fusedrnn-cpp,tf"], "--impls: expected names from"),
                                           (["--rounds", "0"], "--rounds and --noise")])
def test_bad_arguments_are_errors_naming_the_choice(capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_smoke_run_prints_both_thread_counts(capsys):
    assert main(["--size", "smoke", "--rounds", "2", "--workloads", "W3", "--impls", "fusedrnn-cpp"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| W3 | fusedrnn-cpp |"))
    one, two, ratio = (float(cell) for cell in row.split("|")[3:6])
    assert one > 0 and two > 0 and ratio > 0
    assert row.rstrip().endswith(("| yes |", "| **no** |"))
