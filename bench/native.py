"""bench/'s C measurements, built for the machine they run on (-march=native: a local measurement,
never shipped), and the one that says which state a two-CPU virtual machine is in: how long a
cache line takes between its two cores (core_latency.c). On the machines measured here that
moved, within seconds, between about 50 ns and about 200 ns one way as the host moved the CPUs,
and batch-1 steps and W3's step moved with it (bench/RESULTS.md, thirty-second and thirty-fourth
passes), so the scripts that time the targets print it before and after their rounds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")

HERE = Path(__file__).resolve().parent


def compile_for_this_machine(name: str, out_dir: str) -> str:
    """bench/<name>.c built for this machine; RuntimeError, with the compiler's message, where it cannot be."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError(f"no C compiler (cc, gcc or $CC) to build bench/{name}.c")
    exe = os.path.join(out_dir, name)
    for flags in (["-march=native", "-mprefer-vector-width=512"], ["-march=native"], []):
        done = subprocess.run([cc, "-O3", *flags, "-fopenmp", str(HERE / f"{name}.c"), "-o", exe],
                              capture_output=True, text=True)
        if done.returncode == 0:
            return exe
    raise RuntimeError(f"bench/{name}.c did not compile with {cc}:\n{done.stderr}")


def two_cpus(threads: int) -> bool:
    """Whether the latency between two cores can be measured: two threads or more, on two CPUs or more
    (two threads handing a line back and forth on one CPU would each wait for the scheduler)."""
    return threads >= 2 and len(os.sched_getaffinity(0)) >= 2


def core_latency_ns(exe: str, trips: int = 100_000) -> float:
    """Median of 5 runs of core_latency: nanoseconds one way for a cache line between two threads' cores."""
    return float(subprocess.run([exe, str(trips), "5"], capture_output=True, text=True, check=True).stdout)


def with_core_latency(threads: int, out_dir: str, rounds: Callable[[], T]) -> tuple[T, str | None]:
    """rounds()'s result, and a line giving the latency between two cores before and after it; no line
    where it cannot be measured (two_cpus), or where core_latency.c does not build (a line on stderr
    says why: the timings themselves do not need it)."""
    exe = None
    if two_cpus(threads):
        try:
            exe = compile_for_this_machine("core_latency", out_dir)
        except RuntimeError as error:
            print(f"the latency between two cores not measured: {error}", file=sys.stderr)
    before = core_latency_ns(exe) if exe else None
    result = rounds()
    if exe is None:
        return result, None
    after = core_latency_ns(exe)
    return result, f"A cache line between two cores, one way: {before:.0f} ns before the rounds, {after:.0f} ns after."
