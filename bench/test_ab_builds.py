"""bench/ab_builds.py: two builds in two processes, and its arguments."""

import pytest
from ab_builds import compare, main, parse

from fusedrnn import _core


@pytest.mark.parametrize("cell,what", [("lstm", "bwd"), ("gru", "fwd"), ("rnn_tanh", "inf"), ("lstm", "inf --frozen")])
def test_a_build_against_itself_computes_the_same_bits(cell, what):
    args = parse([_core.__file__, _core.__file__, "--cell", cell, "--what", *what.split(), "--shape", "3,2,4,5",
                  "--threads", "1", "--rounds", "2", "--calls", "1"])
    result = compare(args)
    assert result["checksum"]["A"] == result["checksum"]["B"]
    assert result["ratio"] > 0 and all(ms > 0 for ms in result["median_ms"].values())


def test_prints_the_ratio_and_checksums(capsys):
    assert main([_core.__file__, _core.__file__, "--shape", "2,1,3,4", "--rounds", "1", "--calls", "1"]) == 0
    out = capsys.readouterr().out
    assert "lstm bwd float32 T=2 B=1 I=3 H=4" in out and "A/B" in out and "checksums" in out


def test_float64_builds_compute_the_same_bits():
    args = parse([_core.__file__, _core.__file__, "--dtype", "float64", "--shape", "3,2,4,5", "--threads", "1",
                  "--rounds", "1", "--calls", "1"])
    result = compare(args)
    assert result["checksum"]["A"] == result["checksum"]["B"]


@pytest.mark.parametrize("argv,message", [
    (["one.so"], "expected two builds A.so B.so, got 1"),
    (["a.so", "b.so", "--shape", "3,2,4"], "--shape: expected four positive integers T,B,I,H"),
    (["a.so", "b.so", "--shape", "3,0,4,5"], "--shape: expected four positive integers T,B,I,H"),
    (["a.so", "b.so", "--frozen"], "--frozen: only with --what inf, got --what bwd"),
])
def test_bad_arguments_are_errors_naming_them(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
