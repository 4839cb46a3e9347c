"""What got slower or bigger between two reports, with sampling noise and machine noise left out.

Two measures per time entry. The *change* is in CPU seconds: a function's time is
its share of the samples times the process's CPU time, and wall-clock measurements
(ranges, Numba compiles) are scaled by the run's CPU/wall ratio, so time-slicing
on a busy machine does not count. The *change against the rest of the run* is
the ratio of the entry's odds (its time over the rest of the run's) between the
runs: a machine that is slower, or a CPU shared with a sibling thread, stretches
everything alike and leaves it at 1, while a function doing twice the work
doubles it. By default an entry counts only when both moved the same way, and
``--fail-above`` is decided on the second. One consequence, stated in the guide:
a change that slows the whole program down alike looks like a slower machine;
it shows in the run's CPU time, which is listed but never decides. ``wall=True``
is for a quiet machine: seconds as measured, and the change decides.

Sampled times are counts of samples, so a change must also exceed ``NOISE_Z``
standard errors, and be above a floor (``min_time``, ``min_bytes``) and a share of
the run, so 2 ms becoming 6 ms is not a "+200%" regression. Functions are
compared on their own time, their files by where the run imported them from
(``code_paths``), so two checkouts or machines of the same code compare.
Which line of a loop a sample lands on shifts between runs of the same code far
beyond sampling noise, so lines are listed only under a function that changed
and never decide.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from diagkit.compare.code_paths import portable_path, under
from diagkit.compare.finding_changes import finding_changes
from diagkit.model.findings import Finding
from diagkit.model.report import Report

NOISE_Z = 3.0
RELATIVE_TOL = 0.15  # against the rest of the run: within-run proportions drift this much
GPU_MIN_S = 0.001


@dataclass
class DiffOptions:
    min_share: float = 0.02  # of the base run's time, peak memory or GPU time
    min_time: float = 0.05  # seconds
    min_bytes: int = 4 << 20
    wall: bool = False  # wall-clock seconds as measured, decided on the change itself


@dataclass
class Change:
    kind: str  # run | function | line | range | memory | compile | gpu kernel | gpu copy
    name: str
    where: str
    unit: str  # "s" or "B"
    base: float
    new: float
    delta: float
    pct: float | None  # the change; None: not in the base report at all
    impact: float  # delta as a share of the base run's total of the same kind
    vs_rest: float | None = None  # the change against the rest of the run (odds ratio - 1)
    decides: bool = True  # whether it can decide --fail-above
    function: str = ""  # for a line: the function it is in ("name file")


@dataclass
class DiffResult:
    clock: str = "cpu"  # what the seconds are: "cpu" or "wall"
    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    ignored: int = 0
    notes: list[str] = field(default_factory=list)
    # Runs that crashed, were killed or timed out: their times are those of work cut short,
    # so no gate can pass on them.
    unfinished: list[str] = field(default_factory=list)
    # Findings (diagnose/findings.py) the new runs have and the base runs had not, and back.
    appeared: list[Finding] = field(default_factory=list)
    went_away: list[Finding] = field(default_factory=list)

    def over(self, pct: float) -> list[Change]:
        """The regressions that decide and grew by more than ``pct`` percent."""
        out = []
        for c in self.regressions:
            measure = c.vs_rest if self.clock == "cpu" and c.vs_rest is not None else c.pct
            if c.decides and (measure is None or measure * 100 > pct):
                out.append(c)
        return out


@dataclass
class _Entry:
    name: str
    where: str
    value: float
    sigma2: float = 0.0  # variance of ``value`` from sampling
    part: float = 0.0  # the entry and its run's whole, in samples (sampled) or seconds
    whole: float = 0.0
    counted: bool = False  # part and whole are sample counts (binomial noise)
    function: str = ""


class _Run:
    """One report's entries on the chosen clock."""

    def __init__(self, r: Report, wall: bool) -> None:
        self.r = r
        self.cpu = r.outcome.cpu_user_s + r.outcome.cpu_system_s
        self.wall = r.outcome.wall_s
        self.use_wall = wall or not (self.cpu > 0 and self.wall > 0)
        self.scale = 1.0 if self.use_wall else self.cpu / self.wall
        self.total = self.wall if self.use_wall else self.cpu

    def sampled(
        self, name: str, where: str, samples: int, seconds: float, share: float, fn: str
    ) -> _Entry:
        """An entry from samples: its value from their seconds (each sample carries its own
        interval), its noise from how many there were."""
        t = self.r.time
        value = seconds if self.use_wall else share * self.cpu
        var = value * value / samples if samples > 0 else 0.0  # a damaged count is no noise
        return _Entry(name, where, value, var, share * t.samples, t.samples, True, fn)

    def run_time(self) -> dict[tuple[str, ...], _Entry]:
        return _single("wall time" if self.use_wall else "CPU time", self.total)

    def functions(self) -> dict[tuple[str, ...], _Entry]:
        out: dict[tuple[str, ...], _Entry] = {}
        for f in self.r.time.functions:
            file = _rel(f.file, self.r.target.cwd)
            where = f"{file}:{f.line}" if file else ""
            key = portable_path(f.file, self.r.target)
            out[(f.name, key)] = self.sampled(
                f.name, where, f.own_samples, f.own_s, f.own_share, f"{f.name} {key}"
            )
        return out

    def lines(self) -> dict[tuple[str, ...], _Entry]:
        out: dict[tuple[str, ...], _Entry] = {}
        for ln in self.r.time.lines:
            file = _rel(ln.file, self.r.target.cwd)
            name = f"{ln.function}: {ln.source}" if ln.source else ln.function
            key = portable_path(ln.file, self.r.target)
            fn = f"{ln.function} {key}"
            out[(ln.function, key, str(ln.line))] = self.sampled(
                name, f"{file}:{ln.line}", ln.samples, ln.seconds, ln.share, fn
            )
        return out

    def _measured(self, rows: Iterable[tuple[str, float]]) -> dict[tuple[str, ...], _Entry]:
        """Wall-clock seconds measured in the run, on the chosen clock."""
        return {
            (name,): _Entry(name, "", v * self.scale, part=v, whole=self.wall) for name, v in rows
        }

    def ranges(self) -> dict[tuple[str, ...], _Entry]:
        return self._measured((s.name, s.total_s) for s in self.r.ranges.stats)

    def compiles(self) -> dict[tuple[str, ...], _Entry]:
        return self._measured((f.function, f.compile_s) for f in self.r.jit.functions)

    def peak(self) -> dict[tuple[str, ...], _Entry]:
        m = self.r.memory
        return _single("peak RSS", float(m.peak_rss)) if m.available else {}

    def heap(self) -> dict[tuple[str, ...], _Entry]:
        a = self.r.deep.allocations if self.r.deep is not None else None
        ok = a is not None and a.available and a.traced_peak
        return _single("traced heap peak", float(a.traced_peak)) if ok and a else {}

    def kernels(self) -> dict[tuple[str, ...], _Entry]:
        g = self.r.gpu
        return {(k.name,): _Entry(k.name, "", k.time.total_s) for k in g.kernels} if g else {}

    def copies(self) -> dict[tuple[str, ...], _Entry]:
        g = self.r.gpu
        return (
            {(c.operation,): _Entry(c.operation, "", c.time.total_s) for c in g.copies} if g else {}
        )


class _Side:
    """The runs of one side; each entry is its best (lowest) run, as benchmarks take the
    fastest of several runs: a burst of load on a shared machine only ever adds time."""

    def __init__(self, reports: list[Report], wall: bool) -> None:
        self.runs = [_Run(r, wall) for r in reports]
        self.use_wall = any(r.use_wall for r in self.runs)
        self.total = min(r.total for r in self.runs)

    def entries(self, what: str) -> dict[tuple[str, ...], _Entry]:
        out: dict[tuple[str, ...], _Entry] = {}
        for run in self.runs:
            for key, e in getattr(run, what)().items():
                if key not in out or e.value < out[key].value:
                    out[key] = e
        return out

    def all(self, test: Callable[[Report], bool]) -> bool:
        return all(test(run.r) for run in self.runs)


def _rel(path: str, cwd: str) -> str:
    return under(path, cwd) or path


def _single(name: str, value: float) -> dict[tuple[str, ...], _Entry]:
    return {(name,): _Entry(name, "", value)}


def _log_odds_ratio(a: _Entry, b: _Entry) -> tuple[float, float] | None:
    """log of (b's odds / a's odds) and its sampling variance; None where not defined."""
    if not (0 < a.part < a.whole and 0 < b.part < b.whole):
        return None
    lor = math.log(b.part / (b.whole - b.part)) - math.log(a.part / (a.whole - a.part))
    var = 0.0
    if a.counted and b.counted:
        var = 1 / a.part + 1 / (a.whole - a.part) + 1 / b.part + 1 / (b.whole - b.part)
    return lor, var


class _Differ:
    def __init__(self, base: list[Report], new: list[Report], opts: DiffOptions) -> None:
        self.a, self.b = _Side(base, opts.wall), _Side(new, opts.wall)
        if self.a.use_wall != self.b.use_wall:
            self.a, self.b = _Side(base, True), _Side(new, True)
        self.opts = opts
        self.relative = not self.a.use_wall
        self.result = DiffResult(clock="wall" if self.a.use_wall else "cpu")
        if self.a.use_wall and not opts.wall:
            self.result.notes.append("CPU time is missing from a report: compared wall-clock times")
        for side, reports in (("base", base), ("new", new)):
            self.result.unfinished += [
                f"{side} run {' '.join(r.target.argv)!r} did not finish "
                f"({r.outcome.detail or r.outcome.kind})"
                for r in reports
                if not r.outcome.ended_normally()
            ]
        for side, n in (("base", len(base)), ("new", len(new))):
            if n > 1:
                self.result.notes.append(f"{side}: each entry from the best of {n} runs")

    def compare(
        self,
        kind: str,
        a: dict[tuple[str, ...], _Entry],
        b: dict[tuple[str, ...], _Entry],
        unit: str,
        total: float,
        floor: float,
        both_only: bool = False,
    ) -> list[Change]:
        """``total``: the base run's total of this kind (impact and the share floor)."""
        found = []
        keys = a.keys() & b.keys() if both_only else a.keys() | b.keys()
        for key in sorted(keys):
            ea, eb = a.get(key), b.get(key)
            va, vb = (ea.value if ea else 0.0), (eb.value if eb else 0.0)
            delta = vb - va
            noise = NOISE_Z * math.sqrt((ea.sigma2 if ea else 0.0) + (eb.sigma2 if eb else 0.0))
            small = max(va, vb) < max(floor, self.opts.min_share * total)
            rel = _log_odds_ratio(ea, eb) if ea and eb else None
            if (
                small
                or delta == 0
                or abs(delta) <= max(noise, floor / 2)
                or not self._moved(rel, delta)
            ):
                self.result.ignored += 1
                continue
            e = eb or ea
            assert e is not None
            found.append(
                Change(
                    kind,
                    e.name,
                    e.where,
                    unit,
                    va,
                    vb,
                    delta,
                    pct=delta / va if va > 0 else None,
                    impact=delta / total if total > 0 else 0.0,
                    vs_rest=math.exp(rel[0]) - 1 if rel else None,
                    function=e.function,
                )
            )
        return found

    def _moved(self, rel: tuple[float, float] | None, delta: float) -> bool:
        """Against the rest of the run, the entry moved the same way, beyond noise and drift."""
        if not self.relative or rel is None:
            return True
        lor, var = rel
        limit = max(NOISE_Z * math.sqrt(var), math.log1p(RELATIVE_TOL))
        return abs(lor) > limit and (lor > 0) == (delta > 0)

    def run(self) -> DiffResult:
        a, b, o = self.a, self.b, self.opts
        total = a.total

        def cmp(kind: str, what: str, unit: str, whole: float, floor: float) -> list[Change]:
            return self.compare(kind, a.entries(what), b.entries(what), unit, whole, floor)

        found = cmp("run", "run_time", "s", total, o.min_time)
        for c in found:
            c.decides = a.use_wall  # a slower machine looks the same: see the module docstring
        if a.all(lambda r: r.time.available) and b.all(lambda r: r.time.available):
            funcs = cmp("function", "functions", "s", total, o.min_time)
            changed = {c.function for c in funcs}
            lines = self.compare(
                "line",
                a.entries("lines"),
                b.entries("lines"),
                "s",
                total,
                o.min_time,
                both_only=True,
            )
            for c in lines:
                c.decides = False
            found += funcs + [c for c in lines if c.function in changed]
        else:
            self.result.notes.append(
                "time was not sampled in every run: functions and lines not compared"
            )
        found += cmp("range", "ranges", "s", total, o.min_time)
        found += cmp("compile", "compiles", "s", total, o.min_time)
        peak = a.entries("peak")
        if peak and b.entries("peak"):
            found += cmp("memory", "peak", "B", peak[("peak RSS",)].value, o.min_bytes)
        heap = a.entries("heap")
        if heap and b.entries("heap"):
            found += cmp("memory", "heap", "B", heap[("traced heap peak",)].value, o.min_bytes)
        found += self._gpu()
        for c in found:
            (self.result.regressions if c.delta > 0 else self.result.improvements).append(c)
        for lst in (self.result.regressions, self.result.improvements):
            lst.sort(key=lambda c: (-abs(c.impact), -abs(c.delta), c.kind, c.name))
        return self.result

    def _gpu(self) -> list[Change]:
        def ok(r: Report) -> bool:
            return r.gpu is not None and r.gpu.available

        if not (self.a.all(ok) and self.b.all(ok)):
            if self.a.all(ok) or self.b.all(ok):
                self.result.notes.append("not every report has a GPU section: GPU not compared")
            return []
        # Device timestamps: no host clock to scale, and no machine noise to take out.
        g = self.a.runs[0].r.gpu
        assert g is not None
        total = g.kernel_s + g.copy_s
        return self.compare(
            "gpu kernel",
            self.a.entries("kernels"),
            self.b.entries("kernels"),
            "s",
            total,
            GPU_MIN_S,
        ) + self.compare(
            "gpu copy", self.a.entries("copies"), self.b.entries("copies"), "s", total, GPU_MIN_S
        )


def diff_reports(
    base: Report | list[Report], new: Report | list[Report], opts: DiffOptions | None = None
) -> DiffResult:
    """Compare ``new`` to ``base``; a side given as several runs counts each entry's best run."""
    a = base if isinstance(base, list) else [base]
    b = new if isinstance(new, list) else [new]
    result = _Differ(a, b, opts or DiffOptions()).run()
    result.appeared, result.went_away = finding_changes(a, b)
    return result
