"""Turn pytest-benchmark JSON from bench/ into bench/RESULTS.md.

Per workload: median time, speed-up over PyTorch (and ONNX Runtime) measured in the same run,
GFLOP/s and the fraction of the GEMM ceiling (numpy.matmul on a large square product, same
dtype and thread count, its fastest round); then the targets of issue 5, and thread scaling t(1) / t(N).

    python bench/report.py bench.json [-o bench/RESULTS.md]

Everything below the line ``<!-- kept by report.py -->`` in the existing output is kept as is
(hand-written notes, e.g. the GEMM measurements behind the C++ core's choices).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

KEEP_MARKER = "<!-- kept by report.py: hand-written notes below this line survive regeneration -->"
ORDER = ("fusedrnn-cpp", "fusedrnn-numba", "fusedrnn-numpy", "fusedrnn.torch", "torch", "onnxruntime")

# (workload, what, against, at least): speed-up of fusedrnn-cpp over `against` (issue 5)
TARGETS = [
    ("W3", "speed-up", "torch", 1.15), ("W6", "speed-up", "torch", 1.1), ("W7", "speed-up", "torch", 1.1),
    ("W4", "speed-up", "torch", 1.5), ("W5", "speed-up", "torch", 1.5),
    ("W1", "speed-up", "onnxruntime", 1.7), ("W1", "speed-up", "torch", 2.5),
    ("W8", "speed-up", "onnxruntime", 2.0), ("W8", "speed-up", "torch", 4.0),
    ("W2", "speed-up", "onnxruntime", 1.0), ("W9", "speed-up", "torch", 1.3),
    ("W3-f64", "speed-up", "torch", 1.4), ("W3-varlen", "speed-up", "torch", 1.8),
]
TARGET_IMPL = "fusedrnn-cpp"
# issue 3: fusedrnn-numba within this factor of fusedrnn-cpp on every training workload,
# and faster than torch on these (GRU and vanilla RNN training)
NUMBA_WITHIN_CPP = 3.0
NUMBA_BEATS_TORCH = ("W4", "W5")


def load(paths: list[Path]) -> tuple[dict, list[dict]]:
    """(machine/run info of the first file, every benchmark of every file)."""
    info, benchmarks = {}, []
    for path in paths:
        data = json.loads(path.read_text())
        if not info:
            info = {"machine": data.get("machine_info", {}), "commit": data.get("commit_info", {}),
                    "datetime": data.get("datetime", "")}
        benchmarks += [b for b in data.get("benchmarks", []) if b.get("stats") and b.get("extra_info", {}).get("kind")]
    if not benchmarks:
        raise SystemExit("report.py: expected timed benchmarks in the JSON, got none "
                         "(was the run made with --benchmark-disable?)")
    return info, benchmarks


def _order(impl: str) -> int:
    return ORDER.index(impl) if impl in ORDER else len(ORDER)


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


class Results:
    """Medians indexed by (workload, impl, threads) and GEMM rates by (dtype, threads)."""

    def __init__(self, benchmarks: list[dict]):
        self.median: dict[tuple[str, str, int], float] = {}
        self.info: dict[str, dict] = {}
        self.gemm: dict[tuple[int, int, int, str], dict[int, float]] = defaultdict(dict)
        self.gemm_roles: dict[tuple[int, int, int, str], str] = {}
        # (workload, against, impl, threads) -> median over rounds of time(workload) / time(against),
        # from calls alternating round by round (conftest.py's time_alternation)
        self.alternation: dict[tuple[str, str, str, int], float] = {}
        self.size = set()
        for b in benchmarks:
            extra, median = b["extra_info"], b["stats"]["median"]
            self.size.add(extra.get("size", "full"))
            if extra["kind"] == "alternation":
                key = (extra["workload"], extra["against"], extra["impl"], extra["threads"])
                self.alternation[key] = extra["ratio"]
            elif extra["kind"] == "gemm":
                key = (extra["m"], extra["k"], extra["n"], extra["dtype"])
                # a ceiling is the best the machine does: the fastest round, not the median
                self.gemm[key][extra["threads"]] = extra["gflop"] / b["stats"].get("min", median)
                self.gemm_roles[key] = extra.get("roles", "")
            else:
                self.median[(extra["workload"], extra["impl"], extra["threads"])] = median
                self.info[extra["workload"]] = extra
        self.threads = sorted({t for (_, _, t) in self.median} | {t for rates in self.gemm.values() for t in rates})
        self.workloads = list(dict.fromkeys(sorted(self.info, key=_workload_key)))

    def ceiling(self, dtype: str, threads: int) -> float | None:
        """GFLOP/s of the largest square product measured in this dtype at this thread count."""
        squares = [(m, rates) for (m, k, n, dt), rates in self.gemm.items() if m == k == n and dt == dtype]
        if not squares:
            return None
        return max(squares)[1].get(threads)

    def impls(self, workload: str, threads: int) -> list[str]:
        return sorted({i for (w, i, t) in self.median if w == workload and t == threads}, key=_order)

    def time_ratio(self, workload: str, against: str, impl: str, threads: int) -> tuple[float | None, str]:
        """time(workload) / time(against) for one implementation, and how it was measured: from calls
        alternating where the run has them, else from the two workloads' separate medians."""
        alternating = self.alternation.get((workload, against, impl, threads))
        if alternating is not None:
            return alternating, "calls alternating"
        mine, theirs = self.median.get((workload, impl, threads)), self.median.get((against, impl, threads))
        return (None, "") if not mine or not theirs else (mine / theirs, "separate tests")

    def speedup(self, workload: str, impl: str, against: str, threads: int) -> float | None:
        mine, theirs = self.median.get((workload, impl, threads)), self.median.get((workload, against, threads))
        return None if mine is None or theirs is None else theirs / mine


def _workload_key(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name.split("-")[0] if ch.isdigit())
    return (int(digits) if digits else 999, name)


def render(info: dict, results: Results, command_override: str | None) -> str:
    bench = info["machine"].get("fusedrnn_bench", {})
    versions = bench.get("versions", {})
    top = max(results.threads) if results.threads else 1
    lines = ["# fusedrnn benchmark results", ""]
    note = bench.get("note")
    if note:
        lines += [f"> **{note}**", ""]
    if results.size != {"full"}:
        lines += ["> **Smoke-size run (tiny workloads): these are not real figures.**", ""]
    command = command_override or bench.get("command", "?")
    commit = info.get("commit", {})
    lines += [
        "Generated by `python bench/report.py` from the JSON of this command "
        "(medians; speed-ups are measured in the same run):",
        "",
        f"    {command}",
        "",
        f"- date: {info.get('datetime', '?')}; commit {commit.get('id', '?')[:12]}"
        f"{' (uncommitted changes)' if commit.get('dirty') else ''}",
        f"- machine: {bench.get('cpu', '?')}, {bench.get('cores', '?')} cores; "
        f"load average at the end {_loadavg(bench.get('loadavg_at_end'))}; {_steal(bench.get('steal'), bench.get('cores'))}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
        "- backends: " + ", ".join(f"{k}: {v}" for k, v in bench.get("backends", {}).items()),
        f"- threads: {', '.join(map(str, results.threads))} (fusedrnn.set_num_threads, torch.set_num_threads, "
        "ONNX Runtime intra_op_num_threads, threadpoolctl for every BLAS/OpenMP pool)",
        "- FLOPs: GEMMs only, 2*M*N*K each, forward and backward counted separately (training = 3 x forward); "
        "see src/fusedrnn/workloads.py",
        "",
    ]
    lines += _summary(results, top) + _targets(results, top) + _numba_targets(results, top)
    lines += _workload_tables(results)
    lines += _scaling(results) + _gemm_table(results)
    return "\n".join(lines) + "\n"


def _loadavg(value) -> str:
    return "?" if not value else " / ".join(f"{v:.2f}" for v in value)


def _steal(steal, cores) -> str:
    """The CPU time the hypervisor took during the run, as seconds and as a share of all cores' time."""
    if not steal or not cores or steal.get("wall", 0) <= 0:
        return "hypervisor steal not measured"
    share = steal["seconds"] / (steal["wall"] * cores)
    return f"hypervisor steal {steal['seconds']:.1f} s of {steal['wall']:.0f} s x {cores} cores ({share:.1%})"


def _summary(results: Results, top: int) -> list[str]:
    impls = sorted({i for (_, i, t) in results.median if t == top}, key=_order)
    lines = [f"## Summary at {top} thread{'s' if top > 1 else ''}: median ms (speed-up over torch)", "",
             "| workload | GFLOP | " + " | ".join(impls) + " |", "|---|---:|" + "---:|" * len(impls)]
    for w in results.workloads:
        cells = []
        for impl in impls:
            median = results.median.get((w, impl, top))
            speedup = results.speedup(w, impl, "torch", top)
            cells.append("—" if median is None else _ms(median) + (f" ({speedup:.2f}x)" if speedup and impl != "torch" else ""))
        lines.append(f"| {w} | {results.info[w]['gflop']:.3g} | " + " | ".join(cells) + " |")
    return lines + [""]


def _targets(results: Results, top: int) -> list[str]:
    lines = [f"## Targets of issue 5 ({TARGET_IMPL}, {top} threads)", "",
             "| workload | target | measured | met |", "|---|---|---:|---|"]
    for workload, _, against, minimum in TARGETS:
        measured = results.speedup(workload, TARGET_IMPL, against, top)
        met = "—" if measured is None else ("yes" if measured >= minimum else "**no**")
        lines.append(f"| {workload} | ≥ {minimum:g}x {against} | {_ratio(measured)} | {met} |")
    timed = {i for (w, i, t) in results.median if w == "W3-varlen"} | {i for (w, _, i, t) in results.alternation}
    for impl in sorted({i for i in timed if i.startswith("fusedrnn-")}, key=_order):  # backends, not the adapter
        ratio, how = results.time_ratio("W3-varlen", "W3", impl, top)
        if ratio is not None:
            lines.append(f"| W3-varlen | ≤ 0.9 x time of W3 padded ({impl}, {how}) | {ratio:.2f} | "
                         f"{'yes' if ratio <= 0.9 else '**no**'} |")
    return lines + [""]


def _numba_targets(results: Results, top: int) -> list[str]:
    numba = "fusedrnn-numba"
    training = [w for w in results.workloads if "training" in results.info[w]["describe"]]
    rows = []
    for w in training:
        slower = results.speedup(w, TARGET_IMPL, numba, top)  # t(numba) / t(cpp)
        if slower is not None:
            rows.append(f"| {w} | ≤ {NUMBA_WITHIN_CPP:g}x the time of {TARGET_IMPL} | {slower:.2f}x | "
                        f"{'yes' if slower <= NUMBA_WITHIN_CPP else '**no**'} |")
    for w in NUMBA_BEATS_TORCH:
        measured = results.speedup(w, numba, "torch", top)
        if measured is not None:
            rows.append(f"| {w} | faster than torch | {measured:.2f}x | {'yes' if measured > 1 else '**no**'} |")
    if not rows:
        return []
    return [f"## Targets of issue 3 ({numba}, {top} threads)", "",
            "| workload | target | measured | met |", "|---|---|---:|---|", *rows, ""]


def _workload_tables(results: Results) -> list[str]:
    lines = ["## Per workload", ""]
    for threads in sorted(results.threads, reverse=True):
        for w in results.workloads:
            impls = results.impls(w, threads)
            if not impls:
                continue
            info = results.info[w]
            ceiling = results.ceiling(info["dtype"], threads)
            has_ort = "onnxruntime" in impls
            lines += [f"### {w}, {threads} thread{'s' if threads > 1 else ''}: {info['describe']} "
                      f"({info['gflop']:.3g} GFLOP)", ""]
            header = "| implementation | median ms | vs torch |" + (" vs ONNX Runtime |" if has_ort else "")
            header += " GFLOP/s | of GEMM ceiling |"
            lines += [header, "|---|---:|---:|" + ("---:|" if has_ort else "") + "---:|---:|"]
            for impl in impls:
                median = results.median[(w, impl, threads)]
                rate = info["gflop"] / median
                row = f"| {impl} | {_ms(median)} | {_ratio(results.speedup(w, impl, 'torch', threads))} |"
                if has_ort:
                    row += f" {_ratio(results.speedup(w, impl, 'onnxruntime', threads))} |"
                row += f" {rate:.1f} | {'—' if not ceiling else f'{rate / ceiling:.2f}'} |"
                lines.append(row)
            lines.append("")
    return lines


def _scaling(results: Results) -> list[str]:
    if len(results.threads) < 2:
        return []
    low, high = min(results.threads), max(results.threads)
    impls = sorted({i for (_, i, _) in results.median}, key=_order)
    lines = [f"## Thread scaling: time at {low} thread / time at {high} threads (higher is better)", "",
             "| workload | " + " | ".join(impls) + " |", "|---|" + "---:|" * len(impls)]
    for w in results.workloads:
        cells = []
        for impl in impls:
            t_low, t_high = results.median.get((w, impl, low)), results.median.get((w, impl, high))
            cells.append("—" if not (t_low and t_high) else f"{t_low / t_high:.2f}")
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    return lines + [""]


def _gemm_table(results: Results) -> list[str]:
    if not results.gemm:
        return []
    threads = results.threads
    lines = ["## GEMM ceiling: numpy.matmul GFLOP/s", "",
             "| (M, K) x (K, N) | dtype | stands for | " + " | ".join(f"{t} thr" for t in threads) + " |",
             "|---|---|---|" + "---:|" * len(threads)]
    for (m, k, n, dtype), rates in sorted(results.gemm.items(), key=lambda item: (item[0][3], -item[0][0] * item[0][1] * item[0][2])):
        cells = " | ".join(f"{rates[t]:.1f}" if t in rates else "—" for t in threads)
        lines.append(f"| ({m}, {k}) x ({k}, {n}) | {dtype} | {results.gemm_roles[(m, k, n, dtype)]} | {cells} |")
    return lines + ["", "Rates from the fastest round of each product. The ceiling used above is the large square "
                    "product of the workload's dtype at the same thread count.", ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", type=Path, help="pytest-benchmark --benchmark-json file(s)")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    parser.add_argument("--command", help="the command to print (default: the one recorded in the JSON)")
    args = parser.parse_args(argv)
    info, benchmarks = load(args.json)
    text = render(info, Results(benchmarks), args.command)
    if args.output.exists() and KEEP_MARKER in args.output.read_text():
        text += "\n" + KEEP_MARKER + args.output.read_text().split(KEEP_MARKER, 1)[1]
    else:
        text += "\n" + KEEP_MARKER + "\n"
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
