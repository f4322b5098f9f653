"""bench/proc_threads.py: running threads of a process, and waiting until it is idle."""

import subprocess
import sys
import time

from proc_threads import running_threads, wait_until_idle

SPIN = "import time\nt = time.perf_counter()\nwhile time.perf_counter() - t < {s}: pass"


def test_a_spinning_process_runs_and_a_sleeping_one_does_not():
    spinner = subprocess.Popen([sys.executable, "-c", SPIN.format(s=5)])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        time.sleep(0.5)  # both started
        assert max(running_threads(spinner.pid) for _ in range(20)) == 1
        assert running_threads(sleeper.pid) == 0
        start = time.perf_counter()
        wait_until_idle(sleeper.pid)
        assert time.perf_counter() - start < 0.1
    finally:
        for p in (spinner, sleeper):
            p.kill()
            p.wait()


def test_waits_until_the_spinning_ends_or_the_timeout():
    spinner = subprocess.Popen([sys.executable, "-c", SPIN.format(s=0.6)])
    try:
        time.sleep(0.2)
        start = time.perf_counter()
        wait_until_idle(spinner.pid, timeout=0.1)  # gives up
        assert 0.1 <= time.perf_counter() - start < 0.3
        wait_until_idle(spinner.pid, timeout=10)  # the spinner ends after about 0.4 s more
        assert time.perf_counter() - start < 5
        assert running_threads(spinner.pid) == 0
    finally:
        spinner.kill()
        spinner.wait()


def test_the_caller_counts_in_its_own_process():
    assert running_threads("self") >= 1
    assert running_threads(2**22 + 12345) == 0  # no such process
