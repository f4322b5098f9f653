"""The cpp backend's team size on a busy machine (csrc/cpu_load.cpp, Linux only by design).

Another process's runnable task takes a core from the team; this process's own runnable
threads do not (they are mostly other runtimes' idle workers spinning for a few ms, such
as PyTorch's after each op).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time

import pytest

from fusedrnn import _core  # noqa: E402  (a failed import is a failure, never a skip)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the team adapts to load on Linux only")

ONLINE = os.sysconf("SC_NPROCESSORS_ONLN")
RECHECK_S = 0.03  # threads_available reuses its answer for 25 ms


def samples(count: int) -> list[int]:
    assert _core.load_adaptive(), "these tests need load adaptation on (the default)"
    out = []
    for _ in range(count):
        time.sleep(RECHECK_S)
        out.append(_core.threads_available(ONLINE))
    return out


@pytest.mark.skipif(ONLINE < 2, reason="one CPU: the team is one thread anyway")
def test_another_process_takes_a_core_from_the_team():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        seen = samples(10)
    finally:
        spinner.kill()
        spinner.wait()
    assert max(seen) <= ONLINE - 1, f"with a busy process beside us: expected at most {ONLINE - 1}, got {seen}"


def test_this_process_busy_threads_do_not_count_as_load():
    stop = threading.Event()

    def burn():  # hashlib releases the GIL on large inputs: a runnable thread of this process
        while not stop.is_set():
            hashlib.sha256(bytes(20_000_000)).digest()

    burner = threading.Thread(target=burn)
    burner.start()
    try:
        time.sleep(0.1)
        seen = samples(20)
    finally:
        stop.set()
        burner.join()
    assert max(seen) == ONLINE, f"with a busy thread of this process: expected {ONLINE}, got {seen}"
