"""What sampling costs the program, by stack depth and sampling mode, measured from inside it.

    python scripts/bench_pauses.py [--rounds 3] [--seconds 3] [--depths 3 50 150]

The target recurses to a given depth and then spins for a fixed time, noting every
gap of more than 30 µs between two consecutive clock reads: a gap is time the
program did not run (py-spy pausing it, the scheduler, the machine). The excess
of the gaps over a bare run's, as a share of the spin, is what sampling took from
the program; divided by the samples taken it is the pause per sample. Each mode
runs under ``diag profile -q``; rounds are interleaved with the bare run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = """
import json, sys, time
depth, secs, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
def rec(n):
    if n:
        return rec(n - 1)
    clock = time.perf_counter
    gaps, last = 0.0, clock()
    end = last + secs
    while last < end:
        now = clock()
        if now - last > 30e-6:
            gaps += now - last
        last = now
    return gaps
json.dump({"gaps": rec(depth)}, open(out, "w"))
"""

MODES = {
    "200 Hz blocking": ["--rate", "200"],
    "100 Hz blocking": ["--rate", "100"],
    "default (200, then 100 Hz)": [],
    "200 Hz nonblocking": ["--rate", "200", "--nonblocking"],
}


def run(tmp: Path, depth: int, secs: float, diag: list[str] | None) -> tuple[float, int]:
    out, rep = tmp / "gaps.json", tmp / "rep"
    target = [str(tmp / "target.py"), str(depth), str(secs), str(out)]
    if diag is None:
        subprocess.run([sys.executable, *target], check=True)
        return json.loads(out.read_text())["gaps"], 0
    cmd = [sys.executable, "-m", "diagkit.cli", "profile", "-q", "--out", str(rep), *diag, *target]
    subprocess.run(cmd, check=True)
    samples = json.loads((rep / "report.json").read_text())["time"]["samples"]
    return json.loads(out.read_text())["gaps"], samples


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--depths", type=int, nargs="+", default=[3, 50, 150])
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "target.py").write_text(TARGET)
        for depth in args.depths:
            got: dict[str, list[tuple[float, int]]] = {"bare": [], **{m: [] for m in MODES}}
            for _ in range(args.rounds):
                got["bare"].append(run(tmp, depth, args.seconds, None))
                for mode, flags in MODES.items():
                    got[mode].append(run(tmp, depth, args.seconds, flags))
            bare = statistics.median(g for g, _ in got["bare"])
            for mode in MODES:
                gaps = statistics.median(g for g, _ in got[mode])
                samples = statistics.median(n for _, n in got[mode])
                excess = max(gaps - bare, 0.0)
                rows.append(
                    (
                        str(depth),
                        mode,
                        f"{samples:.0f}",
                        f"{excess / args.seconds:.1%}",
                        f"{excess / samples * 1e6:.0f}" if samples else "-",
                    )
                )
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    print(f"{args.rounds} interleaved rounds, medians; {args.seconds:g} s of spinning per run.\n")
    head = ("stack depth", "sampling", "samples", "program time lost", "pause per sample (µs)")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
