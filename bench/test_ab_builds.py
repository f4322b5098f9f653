"""bench/ab_builds.py: two builds in two processes, and its arguments."""

import pytest
import numpy as np
from ab_builds import compare, layer_call, main, parse

from fusedrnn import _core


@pytest.mark.parametrize("cell,what", [("lstm", "bwd"), ("gru", "fwd"), ("rnn_tanh", "inf"), ("lstm", "inf --frozen"),
                                      ("lstm", "bwd --changing"), ("gru", "step")])
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


@pytest.mark.parametrize("what", ["inf", "bwd"])
def test_changing_weights_give_new_results_on_every_call(what):
    steady = layer_call(_core, "gru", (3, 2, 4, 5), what, 1)
    changing = layer_call(_core, "gru", (3, 2, 4, 5), what, 1, changing=True)
    first, second, third = (np.array(changing()[0]) for _ in range(3))
    assert np.array_equal(np.array(steady()[0]), np.array(steady()[0]))
    assert not np.array_equal(first, second) and not np.array_equal(second, third)
    assert np.array_equal(first, third)  # two values alternate


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_step_is_the_forward_then_the_backward_of_its_tape(cell):
    step, backward = layer_call(_core, cell, (3, 2, 4, 5), "step", 1), layer_call(_core, cell, (3, 2, 4, 5), "bwd", 1)
    for ours, theirs in zip(step(), backward()):
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))


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
    (["a.so", "b.so", "--what", "inf", "--frozen", "--changing"], "--changing: not with --frozen"),
])
def test_bad_arguments_are_errors_naming_them(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
