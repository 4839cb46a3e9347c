"""Read an Nsight Systems SQLite export into a RawTrace, and summarize it as a GpuSection.

Tables are optional (nsys writes a table only when it has rows) and columns are
selected by name, so exports from other nsys releases read the same way; extra
tables and columns are ignored. Strings live in StringIds; times are integer
nanoseconds on the session clock.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from diagkit.errors import DiagError
from diagkit.gpu.summary.ops import ApiCall, HostRange, Op, RawTrace
from diagkit.gpu.summary.timeline import summarize
from diagkit.model.gpu import GpuDevice, GpuSection, GpuSkippedRows
from diagkit.model.kinds import RangeStyle

SQLITE_MAGIC = b"SQLite format 3\x00"
NVTX_MARK, NVTX_PUSHPOP, NVTX_STARTEND, NVTX_DOMAIN_CREATE, NVTX_DOMAIN_DESTROY = 34, 59, 60, 75, 76

# ENUM_CUDA_MEMCPY_OPER and ENUM_CUDA_MEM_KIND, for exports that leave the enum tables out.
COPY_KINDS = {
    0: "Unknown",
    1: "Host-to-Device",
    2: "Device-to-Host",
    3: "Host-to-Array",
    4: "Array-to-Host",
    5: "Array-to-Array",
    6: "Array-to-Device",
    7: "Device-to-Array",
    8: "Device-to-Device",
    9: "Host-to-Host",
    10: "Peer-to-Peer",
    11: "Unified Host-to-Device",
    12: "Unified Device-to-Host",
    13: "Unified Device-to-Device",
}
MEM_KINDS = {
    0: "pageable",
    1: "pinned",
    2: "device",
    3: "array",
    4: "managed",
    5: "device static",
    6: "managed static",
}
_NSYS_TABLES = ("StringIds", "META_DATA_EXPORT", "NVTX_EVENTS", "TARGET_INFO_SESSION_START_TIME")
_SQLITE_TYPES = {str: "text", float: "a real number", bytes: "a blob"}


def _pid(global_id: int | None) -> int:
    return (global_id >> 24) & 0xFFFFFF if global_id else 0


class _Export:
    def __init__(self, path: Path) -> None:
        self.path = path
        uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
        self.con = sqlite3.connect(uri, uri=True)
        self.tables = {
            r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        self._cols: dict[str, set[str]] = {}
        # (table, why) -> rows left out: a row that cannot be a real event (a text
        # timestamp, an end before its start) would turn every sum it joins into nonsense.
        self.skipped: Counter[tuple[str, str]] = Counter()

    def columns(self, table: str) -> set[str]:
        if table not in self._cols:
            self._cols[table] = {r[1] for r in self.con.execute(f'PRAGMA table_info("{table}")')}
        return self._cols[table]

    def rows(
        self,
        table: str,
        required: list[str],
        optional: list[str] | tuple[str, ...] = (),
        ints: Collection[str] = (),
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of ``required + optional`` columns; a missing optional column reads as NULL.

        Columns named in ``ints`` must hold integers (NULL too, when optional); a row
        where one does not, or whose ``end`` is before its ``start``, is left out and
        counted in ``skipped``.
        """
        if table not in self.tables:
            return iter(())
        have = self.columns(table)
        missing = [c for c in required if c not in have]
        if missing:
            raise DiagError(
                f"{self.path}: table {table} has no column {', '.join(missing)}: "
                "not an Nsight Systems export this version of diag can read"
            )
        names = [*required, *optional]
        sel = [f'"{c}"' if c in have else f'NULL AS "{c}"' for c in names]
        cursor = self.con.execute(f'SELECT {", ".join(sel)} FROM "{table}"')
        checks = [(i, c, c in required) for i, c in enumerate(names) if c in ints]
        span = (
            (names.index("start"), names.index("end")) if {"start", "end"} <= set(names) else None
        )
        return self._sound(table, cursor, checks, span)

    def _sound(
        self,
        table: str,
        cursor: Iterable[tuple[Any, ...]],
        checks: list[tuple[int, str, bool]],
        span: tuple[int, int] | None,
    ) -> Iterator[tuple[Any, ...]]:
        for row in cursor:
            why = _unsound(row, checks, span)
            if why:
                self.skipped[(table, why)] += 1
            else:
                yield row

    def enum(self, table: str) -> dict[int, str]:
        if table not in self.tables or not {"id", "label"} <= self.columns(table):
            return {}
        rows = self.con.execute(f'SELECT id, label FROM "{table}"')
        return {i: str(lbl) for i, lbl in rows if lbl}


def _unsound(
    row: tuple[Any, ...], checks: list[tuple[int, str, bool]], span: tuple[int, int] | None
) -> str:
    """Why the row cannot be a real event, or "" when it can."""
    for i, name, required in checks:
        v = row[i]
        if type(v) is int or (v is None and not required):
            continue
        return (
            f"no {name}"
            if v is None
            else f"{name} is {_SQLITE_TYPES.get(type(v), 'not an integer')}"
        )
    if span is not None:
        start, end = row[span[0]], row[span[1]]
        if end is not None and end < start:
            return "end before start"
    return ""


def _check_header(path: Path) -> None:
    if not path.exists():
        raise DiagError(f"{path}: no such file")
    if not path.is_file():
        raise DiagError(f"{path}: not a file")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise DiagError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if head != SQLITE_MAGIC:
        what = "empty" if not head else "not an SQLite database"
        raise DiagError(f"{path}: {what}; expected an Nsight Systems SQLite export")


def read_trace(path: Path) -> tuple[RawTrace, dict[str, str]]:
    """The trace and the export's META_DATA_EXPORT values; DiagError for anything unreadable."""
    trace, meta, _ = _read_export(Path(path))
    return trace, meta


def _read_export(path: Path) -> tuple[RawTrace, dict[str, str], list[GpuSkippedRows]]:
    _check_header(path)
    try:
        ex = _Export(path)
        try:
            trace, meta = _read(ex)
        finally:
            ex.con.close()
    except sqlite3.DatabaseError as exc:
        raise DiagError(f"{path}: corrupt or unreadable SQLite file ({exc})") from None
    skipped = [GpuSkippedRows(t, why, n) for (t, why), n in sorted(ex.skipped.items())]
    return trace, meta, skipped


def _skipped_note(skipped: list[GpuSkippedRows]) -> str:
    parts = ", ".join(f"{r.count:,} of {r.table} ({r.reason})" for r in skipped)
    total = sum(r.count for r in skipped)
    rows = "row" if total == 1 else "rows"
    return f"{total:,} {rows} of the export left out, as they cannot be real events: {parts}."


def _read(ex: _Export) -> tuple[RawTrace, dict[str, str]]:
    cupti = {t for t in ex.tables if t.startswith("CUPTI_ACTIVITY_KIND_")}
    if not cupti and not ex.tables.intersection(_NSYS_TABLES):
        found = ", ".join(sorted(ex.tables)[:8]) or "none"
        raise DiagError(
            f"{ex.path}: not an Nsight Systems export (no StringIds, META_DATA_EXPORT, NVTX_EVENTS "
            f"or CUPTI tables; tables found: {found})"
        )
    meta = dict(ex.rows("META_DATA_EXPORT", ["name", "value"]))
    strings = {k: str(v) for k, v in ex.rows("StringIds", ["id", "value"]) if v is not None}

    def s(v: Any) -> str:
        if v is None:
            return ""
        return v if isinstance(v, str) else strings.get(v, f"<string {v}>")

    tr = RawTrace()
    _kernels(ex, tr, s)
    _copies(ex, tr)
    for start, end, nbytes, corr, gpid in ex.rows(
        "CUPTI_ACTIVITY_KIND_MEMSET",
        ["start", "end"],
        ["bytes", "correlationId", "globalPid"],
        ints=("start", "end", "bytes", "correlationId", "globalPid"),
    ):
        tr.ops.append(Op("memset", start, end, "memset", "", nbytes or 0, corr, _pid(gpid)))
    for start, end, gtid, corr, name in ex.rows(
        "CUPTI_ACTIVITY_KIND_RUNTIME",
        ["start", "end"],
        ["globalTid", "correlationId", "nameId"],
        ints=("start", "end", "globalTid", "correlationId"),
    ):
        tr.api.append(ApiCall(s(name), start, end, gtid or 0, corr, _pid(gtid)))
    _nvtx(ex, tr, s)
    tr.devices = _devices(ex, s)
    details = ex.columns("ANALYSIS_DETAILS") if "ANALYSIS_DETAILS" in ex.tables else set()
    if {"startTime", "stopTime"} <= details:
        row = ex.con.execute("SELECT startTime, stopTime FROM ANALYSIS_DETAILS").fetchone()
        if row and type(row[0]) is int and type(row[1]) is int and row[1] > row[0]:
            tr.window = (row[0], row[1])
    tr.ops.sort(key=lambda o: o.start)
    return tr, {str(k): str(v) for k, v in meta.items()}


def _kernels(ex: _Export, tr: RawTrace, s: Any) -> None:
    cols = ["demangledName", "shortName", "mangledName", "correlationId", "globalPid"]
    cols += ["gridX", "gridY", "gridZ", "blockX", "blockY", "blockZ", "registersPerThread"]
    ints = {"start", "end", *cols} - {"demangledName", "shortName", "mangledName"}
    for r in ex.rows("CUPTI_ACTIVITY_KIND_KERNEL", ["start", "end"], cols, ints):
        start, end, dem, short, mangled, corr, gpid, gx, gy, gz, bx, by, bz, regs = r
        name = s(dem) or s(short) or s(mangled) or "<unnamed kernel>"
        grid = ",".join(str(v) for v in (gx, gy, gz)) if gx is not None else ""
        block = ",".join(str(v) for v in (bx, by, bz)) if bx is not None else ""
        tr.ops.append(
            Op(
                "kernel",
                start,
                end,
                name,
                s(short),
                0,
                corr,
                _pid(gpid),
                "",
                grid,
                block,
                regs or 0,
            )
        )


def _copies(ex: _Export, tr: RawTrace) -> None:
    kinds = {**COPY_KINDS, **ex.enum("ENUM_CUDA_MEMCPY_OPER")}
    mem = {**MEM_KINDS, **{k: v.lower() for k, v in ex.enum("ENUM_CUDA_MEM_KIND").items()}}
    for r in ex.rows(
        "CUPTI_ACTIVITY_KIND_MEMCPY",
        ["start", "end", "bytes", "copyKind"],
        ["srcKind", "dstKind", "correlationId", "globalPid"],
        ints=(
            "start",
            "end",
            "bytes",
            "copyKind",
            "srcKind",
            "dstKind",
            "correlationId",
            "globalPid",
        ),
    ):
        start, end, nbytes, kind, src, dst, corr, gpid = r
        name = kinds.get(kind, f"copy kind {kind}")
        to_host = name.endswith("-to-Host") and not name.startswith("Host")
        host = mem.get(dst if to_host else src, "") if "Host" in name else ""
        tr.ops.append(Op("memcpy", start, end, name, "", nbytes, corr, _pid(gpid), host))


def _nvtx(ex: _Export, tr: RawTrace, s: Any) -> None:
    rows = list(
        ex.rows(
            "NVTX_EVENTS",
            ["start", "eventType"],
            ["end", "text", "textId", "domainId", "globalTid"],
            ints=("start", "eventType", "end", "domainId", "globalTid"),
        )
    )
    domains: dict[tuple[int, int], str] = {}
    for _start, etype, _end, text, text_id, dom, gtid in rows:
        if etype == NVTX_DOMAIN_CREATE:
            domains[(_pid(gtid), dom or 0)] = str(text or s(text_id))
    open_ended = 0
    domain_events = 0
    for start, etype, end, text, text_id, dom, gtid in rows:
        if etype == NVTX_MARK:
            tr.marks += 1
        elif etype in (NVTX_DOMAIN_CREATE, NVTX_DOMAIN_DESTROY):
            domain_events += 1
        elif etype in (NVTX_PUSHPOP, NVTX_STARTEND):
            if end is None:
                open_ended += 1
                continue
            domain = domains.get((_pid(gtid), dom or 0), f"domain {dom}") if dom else ""
            msg = str(text) if text is not None else s(text_id)
            name = f"{domain}:{msg}" if domain else msg
            style: RangeStyle = "PushPop" if etype == NVTX_PUSHPOP else "StartEnd"
            tr.ranges.append(HostRange(name, style, domain, start, end, gtid or 0))
    if open_ended:
        tr.notes.append(f"{open_ended} NVTX ranges never ended and are left out.")
    if domain_events and not tr.ranges and not open_ended:
        tr.notes.append(
            "The trace has NVTX domains but no NVTX ranges: the nvtx package 0.2.12 and later "
            "records nothing under Nsight Systems releases that do not report its domains as "
            "enabled (2023.4 among them). Ranges from CuPy's cupy.cuda.nvtx are recorded."
        )


def _devices(ex: _Export, s: Any) -> list[GpuDevice]:
    out = []
    for r in ex.rows(
        "TARGET_INFO_GPU",
        [],
        ["id", "name", "totalMemory", "computeMajor", "computeMinor", "smCount"],
        ints=("id", "totalMemory", "computeMajor", "computeMinor", "smCount"),
    ):
        dev_id, name, mem, major, minor, sms = r
        cc = f"{major}.{minor}" if major is not None else ""
        out.append(GpuDevice(dev_id or 0, s(name), cc, mem or 0, sms or 0))
    return out


def load(path: Path, source: str = "nsys-import") -> GpuSection:
    """Summarize an export; ``source`` is "nsys" when this run made it, else "nsys-import"."""
    path = Path(path)
    trace, meta, skipped = _read_export(path)
    sec = summarize(trace)
    sec.source = source
    sec.skipped_rows = skipped
    if skipped:
        sec.notes.append(_skipped_note(skipped))
    version = meta.get("EXPORT_PRODUCT_VERSION", "")
    schema = meta.get("EXPORT_SCHEMA_VERSION", "")
    parts = [f"Nsight Systems {version}" if version else "Nsight Systems"]
    if schema:
        parts.append(f"export schema {schema}")
    sec.source_detail = f"{', '.join(parts)}: {path}"
    sec.cannot_see = [
        "CuPy memory-pool usage (allocations inside the pool make no CUDA calls)",
        "Python-level time between launches (see `diag profile` for that)",
    ]
    if trace.ops and not trace.api:
        sec.cannot_see.append("which ranges launched the GPU work (no CUDA API calls in the trace)")
    if trace.ops:
        sec.gpu_status = f"{len(trace.ops)} GPU operations recorded."
    else:
        sec.gpu_status = (
            "No CUDA kernels, copies or memsets in this trace (traced without CUDA, "
            "on a machine without a GPU, or the program did no GPU work)."
        )
    return sec
