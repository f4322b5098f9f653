"""The command line: `python -m fusedrnn info | check | bench`."""

from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np

from . import __version__, backends
from .threads import get_num_threads


def _info() -> dict:
    """Version, backends (and why any is missing), threads, and what the compiled core was built with."""
    info = {
        "fusedrnn": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "backends": {name: backends.why(name) or "available" for name in backends.ORDER},
        "default backend": _current_backend(),
        "threads": get_num_threads(),
    }
    info["compiled core"] = _build_info()
    return info


def _build_info():
    """What the extension was built with, or why it does not load."""
    try:
        # Through the backend module: it loads the BLAS _core links and sets libgomp's spin first.
        from .backends.cpp import build_info
    except ImportError as error:
        return f"not available ({type(error).__name__}: {error})"
    return build_info()


def _current_backend() -> str:
    try:
        return backends.current()
    except backends.BackendUnavailable as error:
        return f"none ({error})"


def cmd_info(args) -> int:
    info = _info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for sub, text in value.items():
                print(f"  {sub:<12} {text}")
        else:
            print(f"{key + ':':<17} {value}")
    return 0


def cmd_check(args) -> int:
    from .check import check

    names = args.backend or [name for name in backends.available() if name != "numpy"] or ["numpy"]
    passed = True
    for name in names:
        report = check(name, seed=args.seed)
        print(report)
        passed &= report.passed
    return 0 if passed else 1


def cmd_bench(args) -> int:
    from . import bench

    return bench.run_cli(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fusedrnn", description="fused RNN / LSTM / GRU kernels for CPUs")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="version, backends, threads, CPU features of the compiled core")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(run=cmd_info)
    check = sub.add_parser("check", help="compare backends with the numpy reference on random problems")
    check.add_argument("--backend", action="append", choices=backends.ORDER,
                       help="backend to check (repeatable; default: every available fast backend)")
    check.add_argument("--seed", type=int, default=0)
    check.set_defaults(run=cmd_check)
    bench = sub.add_parser("bench", help="time the backends against PyTorch and ONNX Runtime")
    try:
        from . import bench as bench_module

        bench_module.add_arguments(bench)
    except ImportError:  # the benchmark module is optional at import time of the CLI
        pass
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
