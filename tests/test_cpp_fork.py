"""The cpp backend in a child made by fork() after the parent ran multi-threaded calls (csrc/fork_guard.h).

GNU OpenMP's workers do not survive a fork: a team of two on the thread that forked waited forever
for its lost worker, and so did a bidirectional layer's helper thread. Now that thread's calls run
on one thread (the same bits: results never depend on the thread count), and threads the child
starts run full teams. And a fork waits until no other thread holds the buffer pool's or the weight
cache's lock: a child that inherited one held waited forever for it.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import fusedrnn as fr
from fusedrnn import _core  # noqa: F401  (a failed import is a failure, never a skip)
from forking import in_forked_child
from test_cpp_kernels import exact_threads


@pytest.fixture
def two_threads():
    with exact_threads(_core.simd_path()):  # exactly the threads asked for, whatever else runs
        fr.set_num_threads(2)
        yield


@pytest.mark.parametrize("bidirectional", [False, True], ids=["one direction", "bidirectional"])
def test_a_forked_child_computes_what_its_parent_did(two_threads, rng, bidirectional):
    model = fr.LSTM(64, 64, seed=0, bidirectional=bidirectional)
    x = rng.standard_normal((20, 4, 64)).astype(np.float32)
    with fr.use_backend("cpp"):
        y = model.forward(x)[0]  # the parent's team of two: its workers exist only here
        assert _core.threads_available(2) == 2

        def child():
            with fr.use_backend("cpp"):
                return model.forward(x)[0], _core.threads_available(2)

        y_child, team = in_forked_child(child)
    np.testing.assert_array_equal(y_child, y)
    assert team == 1  # the thread that forked has no workers left


def test_a_thread_the_child_starts_runs_a_full_team(two_threads, rng):
    model = fr.GRU(32, 32, seed=1)
    x = rng.standard_normal((10, 2, 32)).astype(np.float32)
    with fr.use_backend("cpp"):
        y = model.forward(x)[0]

    def child():
        out = {}

        def run():
            with fr.use_backend("cpp"):
                out["team"] = _core.threads_available(2)
                out["y"] = model.forward(x)[0]

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return out

    out = in_forked_child(child)
    assert out["team"] == 2
    np.testing.assert_array_equal(out["y"], y)


def test_a_child_forked_by_a_thread_without_a_team_runs_a_full_team(two_threads, rng):
    model = fr.RNN(32, 32, seed=3)
    x = rng.standard_normal((10, 2, 32)).astype(np.float32)
    with fr.use_backend("cpp"):
        y = model.forward(x)[0]  # this thread's team: the one forking below has none

    def child():
        with fr.use_backend("cpp"):
            return _core.threads_available(2), model.forward(x)[0]

    def in_fresh_thread():
        try:
            out.append(in_forked_child(child))
        except BaseException as error:  # noqa: BLE001 -- raised again below, in the test's thread
            out.append(error)

    out: list = []
    thread = threading.Thread(target=in_fresh_thread)  # a thread that never started a team forks
    thread.start()
    thread.join()
    if isinstance(out[0], BaseException):
        raise out[0]
    team, y_child = out[0]
    assert team == 2
    np.testing.assert_array_equal(y_child, y)


def test_a_fork_waits_for_the_locks_another_thread_holds(rng):
    model = fr.LSTM(32, 64, seed=4)
    x = rng.standard_normal((6, 2, 32)).astype(np.float32)
    with fr.use_backend("cpp"):
        y = model.forward(x)[0]  # packed and cached: the child's call takes both locks
    holder = threading.Thread(target=_core.hold_fork_locks_for, args=(1.0,))
    holder.start()
    time.sleep(0.2)  # the holder has taken the locks by now

    def child():
        with fr.use_backend("cpp"):
            return model.forward(x)[0]

    start = time.monotonic()
    y_child = in_forked_child(child, timeout=20)
    waited = time.monotonic() - start
    holder.join()
    np.testing.assert_array_equal(y_child, y)
    assert waited > 0.5  # the fork itself waited for the holder
