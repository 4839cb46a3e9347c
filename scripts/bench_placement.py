"""Whether a gap between diag and bare python on a NumPy workload is diag's work or where the
program's arrays happen to land in memory.

    python scripts/bench_placement.py [--rounds 3] [--scale 140] [--markdown FILE]

The numpy workload (bench_workloads.py) copies 1.3 MB arrays out of a larger one on each of
thousands of iterations; how fast memmove copies depends on the two buffers' offsets within a
page, and those depend on everything the process allocated before (the interpreter, its
environment, diag's bootstrap). The workload's hot part is timed by the program itself, bare
and under ``diag profile``, run as it is ("direct") and behind small preambles that allocate a
few kilobytes before it (each a different placement of the same work). If diag's gap on the
direct run is its work, it shows behind every preamble too; if it is where the arrays landed,
diag behind the preambles times the same as bare.
Runs are interleaved, the first mode turning each round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_profile_modes import DIAG, ENV

WORK = Path(__file__).with_name("bench_workloads.py")
# (bytes, count) allocated and kept before the workload runs: a few placements of its arrays.
PADS = [(0, 0), (64, 10), (200, 10), (500, 10), (1000, 5), (50, 300)]
PREAMBLE = """import runpy, sys
pad = [bytearray(int(sys.argv[1])) for _ in range(int(sys.argv[2]))]
sys.argv = sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=int, default=140, help="the workload's size (~3.5 s at 140)")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    return ap.parse_args(argv)


def hot_seconds(cmd: list[str], truth: Path) -> float:
    truth.unlink(missing_ok=True)
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return float(json.loads(truth.read_text())["hot"])


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-placement-"))
    preamble = tmp / "preamble.py"
    preamble.write_text(PREAMBLE)
    truth = tmp / "truth.json"
    work = [str(WORK), "numpy", str(args.scale), str(truth)]
    placements: dict[str, list[str]] = {"direct": work}
    for size, count in PADS:
        placements[f"{count}×{size} B"] = [str(preamble), str(size), str(count), *work]
    launchers = {
        "bare": [sys.executable],
        "diag": [*DIAG, "profile", "-q", "--out", str(tmp / "rep")],
    }
    runs = [(p, m) for p in placements for m in launchers]
    got: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    for r in range(args.rounds):
        k = r % len(runs)
        for place, mode in runs[k:] + runs[:k]:
            got[place, mode].append(hot_seconds([*launchers[mode], *placements[place]], truth))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    med = {run: statistics.median(v) for run, v in got.items()}
    lines = [
        "| placement | bare hot s | diag hot s | diag × bare |",
        "|---|---|---|---|",
    ]
    for place in placements:
        b, d = med[place, "bare"], med[place, "diag"]
        lines.append(f"| {place} | {b:.3f} | {d:.3f} | {d / b:.3f} |")
    padded = [p for p in placements if p != "direct"]
    bare_all = [med[p, "bare"] for p in padded]
    diag_all = [med[p, "diag"] for p in padded]
    summary = [
        "",
        f"Behind the {len(padded)} preambles: bare {min(bare_all):.3f}-{max(bare_all):.3f} s "
        f"(spread {max(bare_all) / min(bare_all) - 1:.1%}), diag {min(diag_all):.3f}-"
        f"{max(diag_all):.3f} s; median over preambles diag × bare "
        f"{statistics.median(diag_all) / statistics.median(bare_all):.3f}. "
        f"Direct: diag × bare {med['direct', 'diag'] / med['direct', 'bare']:.3f}.",
        f"({args.rounds} rounds, scale {args.scale}; medians of each cell's rounds.)",
    ]
    text = "\n".join(lines + summary)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
