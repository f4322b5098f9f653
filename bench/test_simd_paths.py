"""bench/simd_paths.py: every SIMD path this CPU runs, timed in alternation, and its arguments."""

import pytest
from simd_paths import compare, main

from fusedrnn import _core


@pytest.mark.parametrize("cell,what", [("lstm", "bwd"), ("gru_reset_before", "fwd"), ("rnn_relu", "inf")])
def test_times_every_path_and_restores_the_one_before(cell, what):
    paths, before = _core.simd_paths(), _core.simd_path()
    result = compare(cell, (3, 2, 4, 17), what, threads=1, rounds=2, calls=1, paths=paths)
    assert set(result["median_ms"]) == set(paths) and all(ms > 0 for ms in result["median_ms"].values())
    assert result["ratio"][paths[0]] == 1.0
    assert _core.simd_path() == before and _core.load_adaptive()


def test_prints_a_table_of_the_passes(capsys):
    assert main(["--shape", "2,1,3,4", "--what", "inf,bwd", "--rounds", "1", "--calls", "1"]) == 0
    out = capsys.readouterr().out
    assert "lstm T=2 B=1 I=3 H=4" in out and "| inf |" in out and "| bwd |" in out
    assert all(f"{p} ms" in out for p in _core.simd_paths())


@pytest.mark.parametrize("argv,message", [
    (["--shape", "3,2,4"], "--shape: expected four positive integers T,B,I,H"),
    (["--what", "inf,sideways"], "--what: expected some of ['inf', 'fwd', 'bwd', 'step'], got ['sideways']"),
    (["--paths", "scalar,sse9"], "--paths: this CPU runs"),
])
def test_bad_arguments_are_errors_naming_them(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
