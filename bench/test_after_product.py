"""bench/after_product.py: smoke runs end to end, and its argument errors."""

import os
import re

import pytest
from after_product import main


@pytest.mark.parametrize("product", ["numpy", "torch"])
def test_smoke_run_prints_both_times_and_their_ratio(product, capsys):
    if product == "torch":
        if os.environ.get("CI"):
            import torch  # noqa: F401  (the test extras install it: missing in CI is a failure)
        else:
            pytest.importorskip("torch")
    assert main(["--product", product, "--size", "smoke", "--rounds", "2", "--threads", "1", "--workload", "W3"]) == 0
    out = capsys.readouterr().out
    found = re.search(rf"^W3 at 1 thread, 2 rounds, size smoke, OPENBLAS_THREAD_TIMEOUT \S+: right after a {product} "
                      r"product ([\d.]+) ms, after a 0\.3 s pause ([\d.]+) ms, ratio ([\d.]+) \(median of rounds\)$",
                      out, re.MULTILINE)
    assert found, out
    assert all(float(value) > 0 for value in found.groups())


@pytest.mark.parametrize("argv, message", [
    (["--workload", "W99"], "--workload: invalid choice: 'W99'"),
    (["--product", "jax"], "--product: invalid choice: 'jax'"),
    (["--rounds", "0"], "--threads and --rounds: expected positive ints"),
])
def test_bad_arguments_are_errors_naming_the_argument(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
