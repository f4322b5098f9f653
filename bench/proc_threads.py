"""How many threads of a process are running right now (Linux /proc), and waiting until none is.

A runtime's idle workers keep spinning after a call (OpenMP's about a millisecond, ONNX Runtime's
40-60 ms, PyTorch's about 9 ms), taking a core from whatever is timed next: bench/interleaved.py
waits for its own process's, bench/ab_builds.py for the other build's worker process.
"""

from __future__ import annotations

import os
import time


def running_threads(pid: int | str = "self") -> int:
    """Threads of process `pid` in state R, the caller included when it is one (0 where unknown)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    running = 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended
            continue
        end = stat.rindex(b")")  # "tid (comm) S ...": comm may hold ")" itself
        running += stat[end + 2:end + 3] == b"R"
    return running


def wait_until_idle(pid: int | str = "self", *, others_than: int = 0, timeout: float = 0.5) -> None:
    """Wait, up to `timeout` seconds, until at most `others_than` threads of `pid` run (the caller's
    own when pid is "self": 1)."""
    deadline = time.perf_counter() + timeout
    while running_threads(pid) > others_than and time.perf_counter() < deadline:
        time.sleep(0.002)
