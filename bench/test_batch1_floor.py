"""bench/batch1_floor.py: the C floor compiles and runs, and the table has every batch-1 target."""

import pytest

from batch1_floor import main, weight_read_ms
from native import compile_for_this_machine, core_latency_ns, two_cpus


def test_stream_floor_reads_the_weights(tmp_path):
    exe = compile_for_this_machine("stream_floor", str(tmp_path))
    small, large = weight_read_ms(exe, 64, 64, 10, 2), weight_read_ms(exe, 4096, 1024, 10, 2)
    assert 0 < small < large  # 256 times the weights take longer


@pytest.mark.skipif(not two_cpus(2), reason="the latency between two cores needs two CPUs")
def test_core_latency_hands_a_line_between_two_cores(tmp_path):
    exe = compile_for_this_machine("core_latency", str(tmp_path))
    assert 0 < core_latency_ns(exe, trips=2000) < 1e6  # a spin that never saw the other's write would hang


def test_prints_every_batch1_target(capsys):
    assert main(["--size", "smoke", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for row in ("| W1 |", "≥ 1.7x onnxruntime", "≥ 2.5x torch", "| W8 |", "≥ 2x onnxruntime", "≥ 4x torch"):
        assert row in out
    assert ("A cache line between two cores, one way:" in out) == two_cpus(2)


@pytest.mark.parametrize("argv,message", [(["--workloads", "W3"], "--workloads: expected some of"),
                                          (["--rounds", "0"], "--threads and --rounds")])
def test_bad_arguments_are_errors_naming_them(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
