"""Where the cpp backend's team runs (csrc/team_placement.cpp, csrc/parallel.h).

A worker woken onto its caller's CPU moves off it; a team that has to share one CPU still
finishes, with the same bits as one thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from fusedrnn import _core  # noqa: E402  (a failed import is a failure, never a skip)

LINUX = sys.platform.startswith("linux")


def in_new_thread(fn):
    """fn() run in a thread of its own (an affinity set there is that thread's only); its result."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as error:  # re-raised in the test's thread
            out["error"] = error

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.mark.skipif(not LINUX, reason="thread placement is Linux's (elsewhere current_cpu is -1: tested below)")
def test_a_worker_on_the_callers_cpu_moves_off_it_and_keeps_its_affinity():
    allowed = os.sched_getaffinity(0)

    def moves():
        seen = []
        for _ in range(5):
            cpu = _core.current_cpu()
            seen.append((cpu, _core.leave_caller_cpu(cpu, 2), os.sched_getaffinity(0)))
        return seen

    for before, moved_to, affinity in in_new_thread(moves):
        assert affinity == allowed, f"affinity: expected {allowed} back, got {affinity}"
        if len(allowed) >= 2:
            # (the CPU while its affinity left `before` out: afterwards the kernel may move it back)
            assert moved_to in allowed - {before}, f"expected the thread moved off CPU {before}, got {moved_to}"
        else:
            assert moved_to == -1, f"one CPU allowed: expected the thread to stay, got moved to {moved_to}"


@pytest.mark.skipif(not LINUX, reason="thread placement is Linux's")
def test_a_worker_stays_where_the_team_does_not_fit():
    cpu = min(os.sched_getaffinity(0))

    def pinned():
        os.sched_setaffinity(0, {cpu})
        moved_to = _core.leave_caller_cpu(cpu, 2)  # one CPU allowed, a team of two: nowhere to go
        return moved_to, _core.current_cpu(), os.sched_getaffinity(0)

    assert in_new_thread(pinned) == (-1, cpu, {cpu})


def test_current_cpu_is_a_cpu_of_this_process_or_unknown():
    cpu = _core.current_cpu()
    if LINUX:
        assert cpu in os.sched_getaffinity(0), f"current_cpu: expected one of {os.sched_getaffinity(0)}, got {cpu}"
    else:
        assert cpu == -1, f"current_cpu off Linux: expected -1, got {cpu}"


SHARED_CPU = textwrap.dedent("""
    import os, sys
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # before the OpenMP workers exist: theirs too
    import numpy as np
    from fusedrnn import _core
    _core.set_load_adaptive(False)  # exactly the threads asked for
    cell = sys.argv[1]
    T, B, I, H = map(int, sys.argv[2].split(","))
    G = {"lstm": 4, "gru": 3, "gru_reset_before": 3, "rnn_tanh": 1}[cell]
    rng = np.random.default_rng(1)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    x, w_ih, w_hh, b_ih, b_hh, dy = f(T, B, I), f(G * H, I) * .2, f(G * H, H) * .2, f(G * H), f(G * H), f(T, B, H)
    h0 = f(B, H)
    c0 = f(B, H) if cell == "lstm" else None
    lengths = np.array([T, T - 7, 1][:B], np.int64)
    forward, backward = getattr(_core, cell + "_forward_f32"), getattr(_core, cell + "_backward_f32")

    def step(threads):
        y, h_n, c_n, saved = forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, False, True, threads)
        grads = backward(x, w_ih, w_hh, lengths, False, *saved, dy, h0, c0, 0.0, 0.0, True, threads)
        return [y, h_n] + [g for g in grads[:-1] if g is not None]

    one = step(1)
    for _ in range(20):  # back to back: the worker sleeps, spins and wakes on the caller's CPU
        two = step(2)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(one, two)), "2 threads on one CPU: other bits"
    print("ok", len(os.sched_getaffinity(0)))
""")


@pytest.mark.skipif(not LINUX, reason="sched_setaffinity is Linux's")
@pytest.mark.parametrize("cell, shape", [
    # steps large enough for a team of two (layer_common.h, loop_threads: 2 x 16 K multiply-adds a step)
    ("lstm", "20,3,24,128"), ("gru", "20,3,24,128"), ("gru_reset_before", "20,3,24,128"), ("rnn_tanh", "20,3,24,256"),
    ("rnn_tanh", "400,1,128,128"),  # 16 K a step, one thread's worth: the input projection's GEMM blocks are shared
])
def test_a_team_of_two_sharing_one_cpu_finishes_with_the_bits_of_one_thread(cell, shape):
    done = subprocess.run([sys.executable, "-c", SHARED_CPU, cell, shape], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "1"], done.stdout
