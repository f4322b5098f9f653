"""Run a function in a child made by os.fork() and get its result back, or a failure if it hangs."""

from __future__ import annotations

import os
import pickle
import select
import signal
import time

import pytest


def in_forked_child(fn, timeout: float = 60.0):
    """fn()'s value as the forked child computed it (pickled through a pipe), or the exception it raised,
    raised here. The test fails where the child hangs past ``timeout`` seconds (it is then killed) or dies."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        os.close(read_end)
        try:
            try:
                payload = pickle.dumps(("value", fn()))
            except BaseException as error:  # noqa: BLE001 -- handed to the parent to assert on
                payload = pickle.dumps(("raised", error))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + timeout
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the forked child hung for {timeout} s")
            chunk = os.read(pipe.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        pytest.fail(f"the forked child died without a result (wait status {status})")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "raised":
        raise value
    return value
