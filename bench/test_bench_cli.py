"""`python -m fusedrnn bench` end to end on one small workload: table, --json, skipped peers, --plot."""

import argparse
import json
import os

import pytest

from fusedrnn import bench


def needs(module: str) -> None:
    """Skip without `module`, except in CI, where the test extras install it and its absence must fail."""
    if os.environ.get("CI"):
        __import__(module)
    else:
        pytest.importorskip(module)


def run(tmp_path, capsys, *extra):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    out = tmp_path / "bench.json"
    args = parser.parse_args(["--workloads", "W8", "--impls", "fusedrnn-numpy,torch,onnxruntime",
                              "--min-time", "0", "--no-progress", "--threads", "1", "--json", str(out), *extra])
    assert bench.run_cli(args) == 0
    return json.loads(out.read_text()), capsys.readouterr()


def test_table_and_json(tmp_path, capsys):
    needs("torch")
    needs("onnxruntime")
    data, printed = run(tmp_path, capsys)
    impls = [row["impl"] for row in data["results"]]
    assert impls == ["fusedrnn-numpy", "torch", "onnxruntime"]
    assert all(row["median_s"] > 0 and row["workload"] == "W8" and row["threads"] == 1 for row in data["results"])
    assert data["gemm_ceiling_gflops"]["float32"] > 0
    assert "vs torch" in printed.out and "W8: GRU T=100 B=1 I=H=256 inference" in printed.out


def test_peers_that_cannot_run_are_named_with_the_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "why_not", lambda impl, w: None if impl == "fusedrnn-numpy" else f"{impl} missing here")
    data, printed = run(tmp_path, capsys)
    assert [row["impl"] for row in data["results"]] == ["fusedrnn-numpy"]
    assert "skipped peer torch: torch missing here" in printed.err
    assert "skipped peer onnxruntime: onnxruntime missing here" in printed.err
    assert {s["impl"] for s in data["skipped"]} == {"torch", "onnxruntime"}


def test_plot(tmp_path, capsys):
    needs("matplotlib")
    png = tmp_path / "bench.png"
    data, _ = run(tmp_path, capsys, "--plot", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(row["workload"].startswith("S-B") for row in data["results"])  # --plot adds the batch sweep


def test_missing_installation_is_told_apart_from_not_applicable(monkeypatch):
    from fusedrnn import backends, bench_runners
    from fusedrnn.workloads import WORKLOADS

    monkeypatch.setattr(backends, "why", lambda name: "no compiler here" if name == "cpp" else None)
    with pytest.raises(bench_runners.NotInstalled, match="no compiler here"):
        bench_runners.make_runner("fusedrnn-cpp", WORKLOADS["W8"], 1)
    # by design: the numpy reference is not timed on big workloads; ORT runs no training
    for impl, name in [("fusedrnn-numpy", "W6"), ("onnxruntime", "W3")]:
        with pytest.raises(bench_runners.NotApplicable) as caught:
            bench_runners.make_runner(impl, WORKLOADS[name], 1)
        assert not isinstance(caught.value, bench_runners.NotInstalled)
