"""Overhead and attribution accuracy of ``diag profile``, side by side with bare runs.

    python scripts/bench_profile.py [--rounds 3] [--seconds 3 2] [--rate N]

For each workload (scripts/bench_workloads.py) and target length, the script
runs the same fixed work bare and under ``diag profile``, interleaved round by
round, and reports:
- overhead: median wall under diag / median wall bare (the whole command); the
  same with the fastest run of each ("best": a burst of load on a shared machine
  only ever adds time); and the program's own run time under diag / bare, from
  its first line to its last (the cost of sampling alone, without diag's start-up
  and report);
- attribution error: the share diag gives the known-hot function (inclusive)
  minus the share the program timed itself in that same profiled run;
- split drift: the program's own hot share under diag minus bare (a profiler
  that slows some code more than other code changes what it measures);
- peak RSS under diag / bare (the kernel's high-water mark for both).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# As in the measurements diag's design rests on: one BLAS thread, so that the workload
# leaves the second core to the sampler as a single-threaded estimator would.
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
WORK = HERE / "bench_workloads.py"
NAMES = ["numpy", "calls", "alloc", "numba"]


def bare(name: str, scale: int, tmp: Path) -> dict:
    truth = tmp / "truth.json"
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(WORK), name, str(scale), str(truth)], env=ENV)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    assert proc.returncode == 0, f"{name} failed bare"
    got = json.loads(truth.read_text())
    return {
        "wall": wall,
        "share": got["hot"] / got["total"],
        "rss": ru.ru_maxrss * 1024,
        "program": got["total"],
    }


def profiled(name: str, scale: int, tmp: Path, rate: int | None, extra: list[str]) -> dict:
    truth, out = tmp / "truth.json", tmp / "rep"
    fixed = ["--rate", str(rate), *extra] if rate else extra  # no rate: diag's default schedule
    cmd = [
        sys.executable,
        "-m",
        "diagkit.cli",
        "profile",
        "-q",
        *fixed,
        "--out",
        str(out),
        str(WORK),
        name,
        str(scale),
        str(truth),
    ]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=ENV)
    wall = time.perf_counter() - t
    got = json.loads(truth.read_text())
    rep = json.loads((out / "report.json").read_text())
    # py-spy names functions by qualified name: w4.<locals>.first_call
    hot = next(
        (f for f in rep["time"]["functions"] if f["name"].split(".")[-1] == got["hot_name"]), None
    )
    return {
        "wall": wall,
        "share": got["hot"] / got["total"],
        "reported": hot["total_share"] if hot else 0.0,
        "rss": rep["memory"]["peak_rss"],
        "samples": rep["time"]["samples"],
        "program": got["total"],
    }


def calibrate(name: str, seconds: float, tmp: Path) -> int:
    # Scales 1 and 4, the lower of two runs each: a single pair of short runs let page-fault
    # and compile noise overshoot 10-second targets fivefold.
    one = min(bare(name, 1, tmp)["wall"] for _ in range(2))
    four = min(bare(name, 4, tmp)["wall"] for _ in range(2))
    per_unit = max((four - one) / 3, 0.05)
    return max(1, round((seconds - (one - per_unit)) / per_unit))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, nargs="+", default=[3.0, 2.0])
    ap.add_argument("--rate", type=int, help="a fixed rate [default: diag's own schedule]")
    ap.add_argument("--only", nargs="*", default=NAMES)
    ap.add_argument("--nonblocking", action="store_true", help="sample without pausing")
    args = ap.parse_args()
    extra = ["--nonblocking"] if args.nonblocking else []
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for seconds in args.seconds:
            for name in args.only:
                scale = calibrate(name, seconds, tmp)
                b, p = [], []
                for _ in range(args.rounds):  # interleaved: machine noise hits both alike
                    b.append(bare(name, scale, tmp))
                    p.append(profiled(name, scale, tmp, args.rate, extra))
                med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
                best = lambda xs, k: min(x[k] for x in xs)  # noqa: E731
                errs = [x["reported"] - x["share"] for x in p]
                rows.append(
                    (
                        name,
                        f"{seconds:g}",
                        f"{med(b, 'wall'):.2f}",
                        f"{med(p, 'wall') / med(b, 'wall'):.3f}",
                        f"{best(p, 'wall') / best(b, 'wall'):.3f}",
                        f"{med(p, 'program') / med(b, 'program'):.3f}",
                        f"{med(p, 'share') * 100:.1f}",
                        f"{statistics.median(errs) * 100:+.1f} (max {max(errs, key=abs) * 100:+.1f})",
                        f"{(med(p, 'share') - med(b, 'share')) * 100:+.1f}",
                        f"{med(p, 'rss') / med(b, 'rss'):.3f}",
                        f"{med(p, 'samples'):.0f}",
                    )
                )
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    head = (
        "workload",
        "target s",
        "bare s",
        "wall ×",
        "best ×",
        "program ×",
        "true hot %",
        "error (pts)",
        "split drift (pts)",
        "peak RSS ×",
        "samples",
    )
    rate = f"{args.rate} Hz" if args.rate else "diag's default rate schedule"
    rate += ", nonblocking" if args.nonblocking else ""
    print(
        f"{rate}, {args.rounds} interleaved rounds, medians; one BLAS thread; Python {sys.version.split()[0]}, {os.cpu_count()} cores.\n"
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
