"""Two builds of the C++ core timed against each other, call for call, on one layer.

    python bench/ab_builds.py A.so B.so --cell lstm --shape 50,32,256,256 --what bwd --threads 2 --rounds 21

A.so and B.so are builds of fusedrnn._core (e.g. build/dev/_core*.so before and after a change). Each
runs in its own worker process: one process cannot hold two builds, the second one loaded runs the
first one's code (measured: identical results from builds that round differently). Rounds alternate
A, B and B, A; each times `--calls` calls per build and keeps the fastest. The result is the median
over rounds of time(A) / time(B) (above 1: B is faster), so the machine's drift stays out of it, and a
checksum of each build's first output (equal when both compute the same bits).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.machinery
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/'s own modules
from proc_threads import wait_until_idle  # noqa: E402

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}
WHAT = ("inf", "fwd", "bwd", "step")  # inference forward, training forward, backward, the two of training


def load_core(path: str):
    """The _core extension in the file `path`, with the OpenBLAS it links loaded first."""
    import scipy_openblas32

    ctypes.CDLL(os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so"), mode=ctypes.RTLD_GLOBAL)
    loader = importlib.machinery.ExtensionFileLoader("_core", path)
    spec = importlib.util.spec_from_file_location("_core", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def layer_call(core, cell: str, shape: tuple[int, int, int, int], what: str, threads: int, frozen: bool = False,
               dtype: str = "float32", changing: bool = False):
    """A no-argument function making one call of `what`, on fixed random data; frozen: read-only weights
    passed with a frozen_id, as a FrozenNetwork's (inference only); changing: the weights changed in place
    before every call, as by a training loop's optimizer step, so that no packing of them is reused."""
    T, B, I, H = shape
    G = GATES[cell]
    rng = np.random.default_rng(0)
    f = np.dtype(dtype)
    suffix = {"float32": "f32", "float64": "f64"}[dtype]
    lstm = cell == "lstm"
    x = rng.standard_normal((T, B, I)).astype(f)
    h0 = np.zeros((B, H), f)
    c0 = np.zeros((B, H), f) if lstm else None
    w_ih = (rng.standard_normal((G * H, I)) * 0.05).astype(f)
    w_hh = (rng.standard_normal((G * H, H)) * 0.05).astype(f)
    b_ih = (rng.standard_normal(G * H) * 0.1).astype(f)
    b_hh = (rng.standard_normal(G * H) * 0.1).astype(f)
    lengths = np.full(B, T, np.int64)
    dy = rng.standard_normal((T, B, H)).astype(f)
    forward = getattr(core, f"{cell}_forward_{suffix}")
    if frozen:
        for w in (w_ih, w_hh):
            w.flags.writeable = False
        return lambda: forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, False, False, threads, 1)
    backward = getattr(core, f"{cell}_backward_{suffix}")
    if what in ("inf", "fwd"):
        call = lambda: forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, False, what == "fwd", threads)
    elif what == "bwd":
        saved = forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, False, True, threads)[3]
        call = lambda: backward(x, w_ih, w_hh, lengths, False, *saved, dy, h0, c0, 0.0, 0.0, True, threads)
    else:  # step: the backward reads the tape its own forward just wrote, wherever that left it in the caches
        def call():
            saved = forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, False, True, threads)[3]
            return backward(x, w_ih, w_hh, lengths, False, *saved, dy, h0, c0, 0.0, 0.0, True, threads)
    if not changing:
        return call
    # Each weight's first element alternates between two values: its bytes differ from the last call's.
    firsts = [(w, w.flat[0], w.flat[0] + f.type(0.25)) for w in (w_ih, w_hh)]
    calls = [0]

    def changed_call():
        calls[0] += 1
        for w, a, b in firsts:
            w.flat[0] = b if calls[0] % 2 else a
        return call()

    return changed_call


def worker(args: argparse.Namespace) -> None:
    """Serves one build: prints a checksum, then for each line `n` on stdin the fastest of n calls."""
    core = load_core(args.builds[0])
    call = layer_call(core, args.cell, args.shape, args.what, args.threads, args.frozen, args.dtype, args.changing)
    print(repr(float(np.sum(np.asarray(call()[0], np.float64)))), flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        print(min(times), flush=True)


def compare(args: argparse.Namespace) -> dict:
    """Times the two builds in alternation; the figures as a dict."""
    tmp = tempfile.mkdtemp(prefix="ab_builds_")
    procs = {}
    try:
        for tag, path in zip("AB", args.builds):
            copy = os.path.join(tmp, tag, os.path.basename(path))  # two files, whatever the names given
            os.makedirs(os.path.dirname(copy))
            shutil.copy(path, copy)
            cmd = [sys.executable, __file__, "--worker", copy, "--cell", args.cell, "--what", args.what,
                   "--threads", str(args.threads), "--shape", ",".join(map(str, args.shape)), "--dtype", args.dtype] + (
                      ["--frozen"] if args.frozen else []) + (["--changing"] if args.changing else [])
            procs[tag] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        checksum = {tag: float(p.stdout.readline()) for tag, p in procs.items()}
        times = {"A": [], "B": []}
        for r in range(args.rounds):
            for tag in ("AB" if r % 2 == 0 else "BA"):
                # The other build's OpenMP workers spin for a while after its calls: not on our time.
                wait_until_idle(procs["B" if tag == "A" else "A"].pid)
                procs[tag].stdin.write(f"{args.calls}\n")
                procs[tag].stdin.flush()
                times[tag].append(float(procs[tag].stdout.readline()))
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait()
            p.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = [a / b for a, b in zip(times["A"], times["B"])]
    return {"median_ms": {t: statistics.median(v) * 1e3 for t, v in times.items()},
            "ratio": statistics.median(ratios), "checksum": checksum}


def parse_shape(parser: argparse.ArgumentParser, text: str) -> tuple[int, int, int, int]:
    """--shape "T,B,I,H" as four positive ints, or the parser's error naming the option."""
    try:
        shape = tuple(int(v) for v in text.split(","))
        assert len(shape) == 4 and min(shape) >= 1
    except (ValueError, AssertionError):
        parser.error(f"--shape: expected four positive integers T,B,I,H, got {text!r}")
    return shape


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="*", help="A.so B.so")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--cell", choices=sorted(GATES), default="lstm")
    parser.add_argument("--shape", default="50,32,256,256", help="T,B,I,H (default: W3's)")
    parser.add_argument("--what", choices=WHAT, default="bwd")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=7, help="calls per build and round; the fastest counts")
    parser.add_argument("--frozen", action="store_true", help="inference on read-only weights with a frozen_id, "
                        "as a FrozenNetwork calls (--what inf only)")
    parser.add_argument("--changing", action="store_true", help="the weights changed in place before every call, "
                        "as in a training loop (no packing reused)")
    args = parser.parse_args(argv)
    args.shape = parse_shape(parser, args.shape)
    if args.worker:
        args.builds = [args.worker]
    elif len(args.builds) != 2:
        parser.error(f"expected two builds A.so B.so, got {len(args.builds)}")
    if args.frozen and args.what != "inf":
        parser.error(f"--frozen: only with --what inf, got --what {args.what}")
    if args.frozen and args.changing:
        parser.error("--changing: not with --frozen (a frozen snapshot's weights never change)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.worker:
        worker(args)
        return 0
    result = compare(args)
    T, B, I, H = args.shape
    ms = result["median_ms"]
    what = f"{args.what} frozen" if args.frozen else args.what
    print(f"{args.cell} {what} {args.dtype} T={T} B={B} I={I} H={H}, {args.threads} threads, {args.rounds} rounds: "
          f"A {ms['A']:.4g} ms, B {ms['B']:.4g} ms, A/B {result['ratio']:.3f} (median of rounds); "
          f"checksums {result['checksum']['A']!r} {result['checksum']['B']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
