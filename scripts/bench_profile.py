"""What ``diag profile`` costs and how well it attributes, beside bare Python and raw py-spy.

    python scripts/bench_profile.py [--quick] [--rounds 5] [--durations 2 3 10]
        [--workloads ...] [--long-workloads ...] [--fixed-runs 7] [--markdown FILE]

With no options it runs the full benchmark (5 rounds; 2 and 3 s on six workloads, 10 s
on four; about half an hour on 2 cores: it prints its estimate before it starts);
``--quick`` is a short pass over every workload and mode (under 3 minutes).

Modes, run round-robin within each round (the order turning by one each round) so
that machine noise hits all alike: bare python; ``py-spy record -r 100 --format
speedscope`` (blocking); ``diag profile``; ``diag profile --blocking`` (where diag
has no such option, its default again, and the table says so).

Workloads (scripts/bench_workloads.py) do fixed work, calibrated from bare runs to
each target length, and time their own hot function in every run. Per workload,
length and mode: wall time over bare and over raw py-spy (medians); the program's
own time over bare's (sampling's cost without start-up and report); attribution
error (the share reported for the hot function minus the share that same run timed;
median and worst); split drift (the program's true share under the mode minus
bare's: a profiler that slows some code more than other code changes what it
measures); samples and failed reads (report.json's time section; py-spy's closing
line); the timeline file's bytes per second of wall. The threaded workload's truth
counts its threads' time running or runnable; its errors against their CPU time alone
are noted under the table. Then the fixed cost: a script that spins 0.3 s and one
that is ``pass``, each mode's median wall minus bare's, after a warm-up run of each.
The targets are reported as PASS/FAIL columns: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_profile_modes import DIAG, MODES, PY_SPY, has_blocking_option, mode_labels, run
from bench_profile_table import (
    FIXED_HEAD,
    WALL_FROM_S,
    WORKLOAD_HEAD,
    cpu_basis_note,
    fixed_rows,
    table,
    tally,
    workload_rows,
)

HERE = Path(__file__).resolve().parent
WORK = HERE / "bench_workloads.py"
WORKLOADS = ("numpy", "calls", "alloc", "numba", "threads", "deep")
LONG_FROM_S = 10.0  # lengths from here up run only on --long-workloads
LONG_WORKLOADS = ("numpy", "calls", "threads", "deep")
FIXED_SCRIPTS = {
    "spin 0.3 s": (
        "import time\nt = time.perf_counter()\nwhile time.perf_counter() - t < 0.3:\n    pass\n"
    ),
    "pass": "pass\n",
}
# Rough cost of one run in each mode, for the estimate: wall as a multiple of bare's, plus seconds.
EST_FACTOR = {
    "bare": (1.0, 0.05),
    "py-spy": (1.1, 0.1),
    "default": (1.15, 0.25),
    "blocking": (1.15, 0.25),
}
QUICK = {"durations": [1.5], "rounds": 2, "fixed_runs": 7, "calibration_runs": 1}
FULL = {"durations": [2.0, 3.0, 10.0], "rounds": 5, "fixed_runs": 7, "calibration_runs": 2}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a short end-to-end pass (1.5 s, 2 rounds, one calibration run; under 3 min on 2 cores)",
    )
    ap.add_argument("--rounds", type=int, help=f"interleaved rounds [default: {FULL['rounds']}]")
    ap.add_argument(
        "--durations", type=float, nargs="+", help="target lengths in seconds [default: 2 3 10]"
    )
    ap.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    ap.add_argument(
        "--long-workloads",
        nargs="+",
        choices=WORKLOADS,
        default=list(LONG_WORKLOADS),
        help=f"the workloads run at lengths of {LONG_FROM_S:g} s and more [default: %(default)s]",
    )
    ap.add_argument(
        "--fixed-runs", type=int, help="interleaved runs of the fixed-cost scripts [default: 7]"
    )
    ap.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = ap.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key in ("durations", "rounds", "fixed_runs"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    args.calibration_runs = preset["calibration_runs"]
    return args


def cells(args: argparse.Namespace) -> list[tuple[str, float]]:
    """(workload, target seconds) in the order they run."""
    return [
        (w, s)
        for s in args.durations
        for w in args.workloads
        if s < LONG_FROM_S or w in args.long_workloads
    ]


def estimate_s(walls: list[float], rounds: int) -> float:
    """Seconds for ROUNDS rounds of every mode on programs whose bare runs take WALLS."""
    return rounds * sum(k * w + c for w in walls for k, c in EST_FACTOR.values())


def fixed_estimate_s(args: argparse.Namespace) -> float:
    return estimate_s([0.33, 0.03], args.fixed_runs + 1)


def calibrate(name: str, tmp: Path, runs: int) -> tuple[float, float]:
    """A bare run's wall as ``a + b * scale``, from scale 1 and a scale long enough that the
    per-scale part dominates start-up noise (probed upwards, about a second)."""

    def wall(scale: int) -> float:
        target = [str(WORK), name, str(scale), str(tmp / "truth.json")]
        return min(run("bare", target, tmp, False, tmp / "truth.json").wall for _ in range(runs))

    one, scale = wall(1), 4
    while True:
        big = wall(scale)
        per = (big - one) / (scale - 1)
        if big - one >= 0.5 or scale >= 1 << 16:
            return one - per, max(per, 1e-6)
        scale = min(scale * 16, max(scale * 2, int(1.0 / max(per, 1e-6))))


def scale_for(line: tuple[float, float], seconds: float) -> int:
    a, b = line
    return max(1, round((seconds - a) / b))


def round_robin(r: int) -> list[str]:
    # Turned by one each round: no mode always runs right after another.
    return [MODES[(i + r) % len(MODES)] for i in range(len(MODES))]


def fixed_cost(tmp: Path, runs: int, blocking: bool) -> dict[str, dict[str, list]]:
    files = {script: tmp / f"fixed{i}.py" for i, script in enumerate(FIXED_SCRIPTS)}
    for script, path in files.items():
        path.write_text(FIXED_SCRIPTS[script])
    got: dict[str, dict[str, list]] = {s: {m: [] for m in MODES} for s in FIXED_SCRIPTS}
    for r in range(-1, runs):  # round -1 is the warm-up: it writes the bytecode caches
        for mode in round_robin(r):
            for script, path in files.items():
                res = run(mode, [str(path)], tmp, blocking, None, may_fail=mode == "py-spy")
                if r >= 0:
                    got[script][mode].append(res)
    return got


def context(args: argparse.Namespace, blocking: bool, load: tuple[float, ...]) -> str:
    spy = subprocess.run([str(PY_SPY), "--version"], capture_output=True, text=True).stdout.strip()
    fallback = (
        ""
        if blocking
        else " `diag profile --help` lists no `--blocking`: that column runs diag's default again."
    )
    return (
        f"{args.rounds} interleaved rounds, medians; one BLAS thread; bytecode caches on"
        f" (PYTHONDONTWRITEBYTECODE unset). Python {sys.version.split()[0]}, {spy},"
        f" {os.cpu_count()} cores, load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f}"
        f" at the end.{fallback} diag: {' '.join(DIAG)}."
    )


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    load = os.getloadavg()
    blocking = has_blocking_option()
    labels = mode_labels(blocking)
    todo = cells(args)
    rough = (
        estimate_s([s for _, s in todo], args.rounds)
        + fixed_estimate_s(args)
        + len(args.workloads) * 3.0 * args.calibration_runs
    )
    say = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    say(
        f"{len(todo)} workload x length cells, {args.rounds} rounds, modes: {', '.join(labels.values())}"
    )
    say(f"expected total: about {rough / 60:.1f} min (before calibration)")
    workload_out: list[tuple[str, ...]] = []
    notes: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        fixed = fixed_cost(tmp, args.fixed_runs, blocking)
        fixed_out = fixed_rows(fixed, labels)
        lines = {w: calibrate(w, tmp, args.calibration_runs) for w in args.workloads}
        scales = {(w, s): scale_for(lines[w], s) for w, s in todo}
        left = estimate_s([lines[w][0] + lines[w][1] * scales[w, s] for w, s in todo], args.rounds)
        say(f"calibrated; expected: about {left / 60:.1f} min more")
        for w, s in todo:
            truth = tmp / "truth.json"
            target = [str(WORK), w, str(scales[w, s]), str(truth)]
            runs: dict[str, list] = {m: [] for m in MODES}
            for r in range(args.rounds):
                for mode in round_robin(r):
                    runs[mode].append(run(mode, target, tmp, blocking, truth))
            rows = workload_rows(w, s, runs, labels)
            notes += filter(None, [cpu_basis_note(w, s, runs, labels)])
            workload_out += rows
            for row in rows:
                say(" | ".join(row))
    took = time.perf_counter() - started
    cmd = shlex.join(
        ["python", "scripts/bench_profile.py", *(sys.argv[1:] if argv is None else argv)]
    )
    text = "\n\n".join(
        [
            f"    {cmd}",
            context(args, blocking, load) + f" Took {took / 60:.1f} min.",
            table(WORKLOAD_HEAD, workload_out),
            *(
                [
                    "The threaded workload's truth is the time its threads were running or"
                    " runnable (not waiting for the GIL); against their CPU time alone, the"
                    " median errors (pts) are:\n" + "\n".join(notes)
                ]
                if notes
                else []
            ),
            f"Targets met, rows passing of rows judged (wall from {WALL_FROM_S:g} s up):\n"
            + "\n".join(tally(workload_out, labels)),
            "Fixed cost: median of the interleaved runs after a warm-up run of each.",
            table(FIXED_HEAD, fixed_out),
        ]
    )
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
