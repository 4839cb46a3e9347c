"""Find Nsight Systems, build its command lines, export reports, and say in one line why it failed."""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from diagkit.errors import DiagError

TRACE = "cuda,nvtx,osrt"
_SEARCH = (
    "/usr/local/cuda/bin/nsys",
    "/opt/nvidia/nsight-systems/*/bin/nsys",
    "/usr/local/cuda-*/bin/nsys",
    "/opt/nvidia/nsight-systems-cli/*/bin/nsys",
)
_KNOWN = (
    (
        re.compile(r"QdstrmImporter", re.I),
        "nsys could not turn its capture into a report: QdstrmImporter is missing (install the "
        "full Nsight Systems host package, not only the target part)",
    ),
    (
        re.compile(r"perf_event_paranoid|CAP_SYS_ADMIN", re.I),
        "nsys lacks permission to trace (see /proc/sys/kernel/perf_event_paranoid)",
    ),
)
_ERRORISH = re.compile(
    r"\b(error|failed|fatal|cannot|could not|unable|not found|invalid|denied|no such|"
    r"unknown|unrecogni[sz]ed)\b",
    re.I,
)


def find_nsys(explicit: str | None = None) -> str | None:
    """``--nsys PATH`` (checked: DiagError if unusable), else nsys on the PATH or in CUDA's usual places."""
    if explicit:
        p = Path(explicit)
        if p.is_dir():
            p = p / "nsys"
        if not p.exists():
            found = shutil.which(explicit)
            if found is None:
                raise DiagError(f"--nsys {explicit}: no such file")
            return found
        if not os.access(p, os.X_OK) or p.is_dir():
            raise DiagError(f"--nsys {explicit}: not an executable")
        return str(p)
    found = shutil.which("nsys")
    if found:
        return found
    for pattern in _SEARCH:
        hits = sorted(glob.glob(pattern))
        if hits and os.access(hits[-1], os.X_OK):
            return hits[-1]
    return None


def version(nsys: str) -> str:
    """``2023.4.4.54``-style version, or "" when nsys does not answer."""
    try:
        out = subprocess.run([nsys, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    m = re.search(r"(\d{4}\.\d+(?:\.\d+)*)", out.stdout + out.stderr)
    return m.group(1) if m else ""


def profile_command(nsys: str, out_base: Path, argv: list[str], trace: str = TRACE) -> list[str]:
    """Wrap ``argv``: nsys writes OUT_BASE.nsys-rep and OUT_BASE.sqlite when the program ends."""
    return [
        nsys,
        "profile",
        "-t",
        trace,
        "--sample=none",
        "--cpuctxsw=none",
        "-f",
        "true",
        "-o",
        str(out_base),
        "--export",
        "sqlite",
        *argv,
    ]


def export_command(nsys: str, rep: Path, sqlite: Path) -> list[str]:
    return [nsys, "export", "--type", "sqlite", "-f", "true", "-o", str(sqlite), str(rep)]


def export(nsys: str, rep: Path, sqlite: Path, timeout: float = 600) -> Path:
    """Export an .nsys-rep to SQLite; DiagError with nsys's complaint in one line."""
    cmd = export_command(nsys, rep, sqlite)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DiagError(f"nsys export of {rep} took longer than {timeout:.0f} s") from None
    except OSError as exc:
        raise DiagError(f"could not run {nsys}: {exc.strerror or exc}") from None
    if res.returncode != 0 or not sqlite.exists():
        why = summarize_failure(res.returncode, res.stderr + "\n" + res.stdout)
        raise DiagError(f"nsys export of {rep} failed: {why}")
    return sqlite


def summarize_failure(returncode: int | None, output: str) -> str:
    """One line: what nsys said that matters, and how it exited."""
    how = ""
    if returncode is not None and returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    elif returncode:
        how = f"exit code {returncode}"
    for pattern, message in _KNOWN:
        if pattern.search(output):
            return f"{message} ({how})" if how else message
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errorish = [ln for ln in lines if _ERRORISH.search(ln)]
    line = (errorish or lines or [""])[-1 if not errorish else 0]
    line = re.sub(r"\s+", " ", line)[:200]
    if line and how:
        return f"{line} ({how})"
    return line or how or "no output"


def results(out_base: Path) -> tuple[Path | None, Path | None]:
    """The .sqlite and .nsys-rep that ``profile_command`` asked for, where they exist."""
    sqlite = out_base.with_name(out_base.name + ".sqlite")
    rep = out_base.with_name(out_base.name + ".nsys-rep")
    return (sqlite if sqlite.exists() else None), (rep if rep.exists() else None)


def missing_report_reason(out_base: Path, returncode: int | None, output: str = "") -> str:
    """Why no report came out, from what nsys left behind and what it printed."""
    qdstrm = out_base.with_name(out_base.name + ".qdstrm")
    if qdstrm.exists():
        return (
            f"nsys left {qdstrm.name} but no report: QdstrmImporter is missing (install the "
            "full Nsight Systems host package, not only the target part)"
        )
    why = summarize_failure(returncode, output) if output or returncode else ""
    return f"nsys produced no report ({why})" if why else "nsys produced no report"
