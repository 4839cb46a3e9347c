"""What the launcher needs to run a target under GPU tracing, and to collect the result.

    plan = gpu_plan(out_dir, nsys_path=None, use_nsys=True)
    argv = plan.wrap(child_argv)       # nsys profile ... <child argv>, or unchanged
    env.update(plan.env())             # tells the bootstrap to start diagkit.gpu.target.inprocess
    ... run the child, wait for it ...
    section, files = plan.collect(t0_ns=start_ns, returncode=rc)

Under nsys the in-process collector still runs, in "host" mode: it times the
ranges that nsys may miss (the nvtx package 0.2.12 and later records nothing
under nsys releases that do not report its domains enabled) and they are merged
into the nsys summary, marked as host-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from diagkit.errors import DiagError
from diagkit.gpu.nsys import run as nsys_run
from diagkit.gpu.nsys import sqlite as nsys_sqlite
from diagkit.gpu.target import inprocess
from diagkit.model.gpu import GpuRange, GpuSection
from diagkit.model.store import GPU_INPROCESS, GPU_TRACE_BASE


@dataclass
class GpuPlan:
    out_dir: Path
    nsys: str | None = None  # None: the in-process collector does the tracing
    nsys_version: str = ""
    inprocess_mode: str = "auto"
    notes: list[str] = field(default_factory=list)

    @property
    def trace_base(self) -> Path:
        return self.out_dir / GPU_TRACE_BASE

    @property
    def inprocess_out(self) -> Path:
        return self.out_dir / GPU_INPROCESS

    def wrap(self, argv: list[str]) -> list[str]:
        if self.nsys is None:
            return list(argv)
        return nsys_run.profile_command(self.nsys, self.trace_base, argv)

    def env(self) -> dict[str, str]:
        mode = "host" if self.nsys else self.inprocess_mode
        return {inprocess.ENV_OUT: str(self.inprocess_out), inprocess.ENV_MODE: mode}

    def collect(
        self, t0_ns: int | None = None, returncode: int | None = None, nsys_output: str = ""
    ) -> tuple[GpuSection, dict[str, str]]:
        """The section and {label: file name in out_dir} of the side files to list in the report."""
        host = inprocess.read_result(self.inprocess_out, t0_ns)
        files: dict[str, str] = {}
        if host.available or self.inprocess_out.exists():
            files["gpu in-process results"] = GPU_INPROCESS
        if self.nsys is None:
            host.notes[:0] = self.notes
            return host, files
        sqlite, rep = nsys_run.results(self.trace_base)
        if sqlite is None and rep is not None:
            try:
                sqlite = nsys_run.export(self.nsys, rep, rep.with_suffix(".sqlite"))
            except DiagError as exc:
                nsys_output = f"{nsys_output}\n{exc.message}"
        if rep is not None:
            files["nsys report"] = rep.name
        if sqlite is None:
            why = nsys_run.missing_report_reason(self.trace_base, returncode, nsys_output)
            sec = GpuSection(available=False, unavailable_reason=why, source="nsys")
            sec.ranges = host.ranges
            if host.ranges:
                sec.notes.append("The ranges below were timed in-process (host times only).")
            return sec, files
        files["nsys sqlite"] = sqlite.name
        try:
            sec = nsys_sqlite.load(sqlite, source="nsys")
        except DiagError as exc:
            sec = GpuSection(available=False, unavailable_reason=exc.message, source="nsys")
        if self.nsys_version and self.nsys_version not in sec.source_detail:
            sec.source_detail = f"nsys {self.nsys_version}; {sec.source_detail}"
        sec.notes[:0] = self.notes
        merge_missing_ranges(sec, host)
        return sec, files


def gpu_plan(
    out_dir: Path, nsys_path: str | None = None, use_nsys: bool = True, mode: str = "auto"
) -> GpuPlan:
    """nsys when it is found (or given) and wanted; else the in-process collector."""
    plan = GpuPlan(out_dir=out_dir, inprocess_mode=mode)
    if not use_nsys:
        return plan
    nsys = nsys_run.find_nsys(nsys_path)
    if nsys is None:
        plan.notes.append("Nsight Systems (nsys) was not found: traced in-process instead.")
        return plan
    plan.nsys = nsys
    plan.nsys_version = nsys_run.version(nsys)
    return plan


def merge_missing_ranges(sec: GpuSection, host: GpuSection) -> None:
    """Add the host-timed ranges nsys did not record; shares are recomputed over all rows."""
    have = {(r.name, r.style) for r in sec.ranges}
    extra = [r for r in host.ranges if (r.name, r.style) not in have]
    if not extra:
        return
    for r in extra:
        r.kernels, r.transfers, r.gpu_span = [], [], None
    sec.ranges.extend(extra)
    _reshare(sec.ranges)
    names = ", ".join(sorted({r.name for r in extra})[:5])
    sec.notes.append(
        f"{len(extra)} ranges were missing from the nsys trace and were timed in-process "
        f"instead ({names}{', ...' if len(extra) > 5 else ''}): host times only, GPU work "
        "not attributed to them."
    )


def _reshare(ranges: list[GpuRange]) -> None:
    total = sum(r.time.total_s for r in ranges) or 1.0
    for r in ranges:
        r.share = r.time.total_s / total
    ranges.sort(key=lambda r: (-r.time.total_s, r.name))
