"""The ways bench_profile.py runs a program, and what it reads back from each run.

bare: ``python SCRIPT``; py-spy: ``py-spy record -r 100 --format speedscope`` (blocking, the
way a user runs it by hand); default: ``diag profile``; blocking: ``diag profile --blocking``,
or where diag has no such option yet, ``diag profile`` again (diag's default was blocking).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
# The programs beside this interpreter, as a user's shell finds them once the environment is
# active: a pyenv shim on PATH would add ~80 ms to every start.
DIAG = (
    [str(BIN / "diag")]
    if os.access(BIN / "diag", os.X_OK)
    else [sys.executable, "-m", "diagkit.cli"]
)
PY_SPY = str(BIN / "py-spy") if os.access(BIN / "py-spy", os.X_OK) else shutil.which("py-spy")
RAW_RATE = 100

# One BLAS thread, as in the measurements diag's design rests on: the workload leaves the
# second core to the sampler as a single-threaded estimator would. Users' Pythons write
# bytecode caches; this environment's PYTHONDONTWRITEBYTECODE=1 would make every start
# compile diag afresh.
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

MODES = ("bare", "py-spy", "default", "blocking")
SAMPLED = MODES[1:]
DIAG_MODES = ("default", "blocking")


def has_blocking_option() -> bool:
    out = subprocess.run([*DIAG, "profile", "--help"], capture_output=True, text=True, env=ENV)
    return lists_option(out.stdout, "--blocking")


def lists_option(help_text: str, option: str) -> bool:
    """Whether click's help lists OPTION as an option of its own (a line starting with it,
    alone or after its short form), not as a word in another's text."""
    # click indents an option by two spaces, the lines continuing a text by more
    return re.search(rf"^  (-\w, )?{re.escape(option)}\b(?!-)", help_text, re.M) is not None


def mode_labels(blocking: bool) -> dict[str, str]:
    return {
        "bare": "bare python",
        "py-spy": f"py-spy record -r {RAW_RATE}",
        "default": "diag profile",
        "blocking": "diag profile --blocking"
        if blocking
        else "diag profile (no --blocking yet: today's default)",
    }


@dataclass
class Run:
    wall: float
    program: float | None = None  # the program's own time, first line to last
    share: float | None = None  # the hot function's true share in this run
    reported: float | None = None  # the share the profiler gave it
    cpu_share: float | None = None  # the true share in CPU time alone, where it differs
    samples: int | None = None
    errors: int | None = None  # failed reads
    reads: int | None = None  # reads tried, where the sampler says
    timeline_bytes: int | None = None
    failed: bool = False  # the command exited non-zero (where that was allowed)


def command(mode: str, target: list[str], folder: Path, blocking: bool) -> list[str]:
    if mode == "bare":
        return [sys.executable, *target]
    if mode == "py-spy":
        raw = [
            "record",
            "-r",
            str(RAW_RATE),
            "--format",
            "speedscope",
            "-o",
            str(folder / "raw.json"),
        ]
        return [str(PY_SPY), *raw, "--", sys.executable, *target]
    flags = ["--blocking"] if mode == "blocking" and blocking else []
    return [*DIAG, "profile", "-q", *flags, "--out", str(folder / "rep"), *target]


def run(
    mode: str,
    target: list[str],
    folder: Path,
    blocking: bool,
    truth: Path | None,
    may_fail: bool = False,
) -> Run:
    """One run of TARGET (a script and its arguments) in MODE; TRUTH, where given, is the file
    the workload writes its own measure of itself to. MAY_FAIL: a non-zero exit is a result
    (py-spy loses the race to attach to a program that ends at once), not an error."""
    shutil.rmtree(folder / "rep", ignore_errors=True)
    for stale in (folder / "raw.json", truth):
        if stale is not None:
            stale.unlink(missing_ok=True)
    cmd = command(mode, target, folder, blocking)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        if may_fail:
            return Run(wall=wall, failed=True)
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise SystemExit(f"{mode} run failed ({proc.returncode}): {shlex.join(cmd)}\n{tail}")
    got = json.loads(truth.read_text()) if truth is not None else None
    r = Run(wall=wall)
    if got is not None:
        r.program, r.share = got["total"], got["hot_share"]
        r.cpu_share = got.get("cpu_share")
    if mode == "py-spy":
        raw = folder / "raw.json"
        r.timeline_bytes = raw.stat().st_size
        speedscope = json.loads(raw.read_text())
        r.samples = sum(len(p.get("samples", [])) for p in speedscope.get("profiles", []))
        r.reads, r.errors = py_spy_counts(proc.stdout + proc.stderr)  # py-spy's own: stdout
        if got is not None:
            r.reported = speedscope_share(speedscope, got["hot_name"])
    elif mode != "bare":
        rep = json.loads((folder / "rep" / "report.json").read_text())
        sec = rep.get("time", {})
        r.samples, r.errors = sec.get("samples"), sec.get("sample_errors")
        r.reads = sec.get("sample_reads")
        timeline = (
            folder / "rep" / rep.get("files", {}).get("speedscope", "profile.speedscope.json")
        )
        r.timeline_bytes = timeline.stat().st_size if timeline.is_file() else None
        if got is not None:
            r.reported = report_share(sec, got["hot_name"])
    return r


def same_function(name: str, hot_name: str) -> bool:
    # py-spy names functions by qualified name: w4.<locals>.first_call
    return name.split(".")[-1] == hot_name


def report_share(time_section: dict, hot_name: str) -> float:
    """The inclusive share diag's report gives the hot function (0 where it is not listed)."""
    return next(
        (
            f["total_share"]
            for f in time_section.get("functions", [])
            if same_function(f["name"], hot_name)
        ),
        0.0,
    )


def speedscope_share(speedscope: dict, hot_name: str) -> float:
    """The weight of the samples with the hot function on their stack, over all samples of
    every thread: py-spy's own answer, read as diag reads it (inclusive)."""
    frames = speedscope["shared"]["frames"]
    hot = {i for i, f in enumerate(frames) if same_function(f["name"], hot_name)}
    total = with_hot = 0.0
    for prof in speedscope.get("profiles", []):
        samples = prof.get("samples", [])
        for stack, w in zip(samples, prof.get("weights") or [1.0] * len(samples), strict=True):
            total += w
            if hot.intersection(stack):
                with_hot += w
    return with_hot / total if total else 0.0


def py_spy_counts(stderr: str) -> tuple[int | None, int | None]:
    """Reads tried and failed, from py-spy record's closing line:
    ``Wrote speedscope file to '...'. Samples: 44 Errors: 0`` (a read is one or the other)."""
    found = re.findall(r"Samples: (\d+) Errors: (\d+)", stderr)
    if not found:
        return None, None
    ok, failed = map(int, found[-1])
    return ok + failed, failed
