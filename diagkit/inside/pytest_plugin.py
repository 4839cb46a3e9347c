"""The pytest plugin (entry point ``pytest11``): inert unless asked.

- ``--diag [--diag-out DIR]``: the session's process sampled from outside by py-spy (as
  ``diagkit.profile`` does), each test a ``diagkit.range`` named by its node id, so the
  report's stages, ``diag diff`` and the summary here split by test.
- ``--diag-compare BASE [--diag-fail-above PCT]``: the session fails where a test's time
  grew past ``diag diff``'s noise model and PCT against the rest of the run.
- ``@pytest.mark.diag(max_seconds=, max_peak_rss=, max_compile_seconds=)``: the test fails
  past a limit, with or without ``--diag`` (``test_limits`` measures what the marker needs).

With pytest-xdist each worker samples itself into DIR/<worker id>; the controller, which
runs no tests, says where.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from diagkit.inside.self_profile import SelfProfile
    from diagkit.inside.test_summary import TestRow
    from diagkit.model.report import Report

SLOWEST = 10


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("diag", "diagkit: the test session sampled from outside")
    g.addoption(
        "--diag", action="store_true", help="profile the session: one report, each test a range"
    )
    g.addoption(
        "--diag-out", metavar="DIR", help="the report folder (default: a new one in ./diag-reports)"
    )
    g.addoption(
        "--diag-compare",
        metavar="BASE_REPORT",
        help="fail the session when a test's time grew against this report (diag diff's noise model)",
    )
    g.addoption(
        "--diag-fail-above",
        metavar="PCT",
        type=float,
        default=20.0,
        help="with --diag-compare: how many percent a test may grow against the rest [20]",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "diag(max_seconds=None, max_peak_rss=None, max_compile_seconds=None): fail the test "
        "when its call takes longer, its process's RSS peaks higher or Numba compiles longer",
    )
    config.pluginmanager.register(_Limits(), "diagkit-limits")
    wanted = config.getoption("diag")
    for name in ("diag_out", "diag_compare"):
        if config.getoption(name) is not None and not wanted:
            raise pytest.UsageError(f"--{name.replace('_', '-')} goes with --diag")
    if wanted:
        if config.getoption("diag_fail_above") < 0:
            raise pytest.UsageError("--diag-fail-above must be 0 or more")
        base = None
        if config.getoption("diag_compare") is not None:
            import diagkit
            from diagkit.errors import DiagError

            try:  # read before the tests run: a wrong path must not cost a whole session
                base = diagkit.load_report(config.getoption("diag_compare"))
            except DiagError as exc:
                raise pytest.UsageError(f"--diag-compare: {exc}") from None
        config.pluginmanager.register(_Session(config, base), "diagkit-session")


class _Limits:
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        marker = item.get_closest_marker("diag")
        if marker is None:
            return (yield)
        from diagkit.errors import DiagError
        from diagkit.inside.test_limits import Limits, TestWatch

        try:
            limits = Limits.from_marker(marker.args, marker.kwargs)
        except DiagError as exc:
            pytest.fail(str(exc), pytrace=False)
        watch = TestWatch(limits)
        watch.start()
        try:
            result = yield
        finally:
            watch.stop()
        over = watch.exceeded()
        if over:
            pytest.fail(
                f"diag: {'; '.join(over)}; hottest function: {watch.hottest()}", pytrace=False
            )
        return result


class _Session:
    def __init__(self, config: pytest.Config, base: Report | None) -> None:
        self.config = config
        self.base = base
        self.profile: SelfProfile | None = None
        self.report: Report | None = None
        self.problem = ""
        self.functions: dict[str, tuple[str, str]] = {}
        self.exact_peaks: dict[str, int] = {}
        self.rows: list[TestRow] = []
        self.regressed: list[str] = []
        self.worker = getattr(config, "workerinput", {}).get("workerid", "")
        self.controller = not self.worker and (config.getoption("dist", "no") or "no") != "no"
        out = config.getoption("diag_out")
        self.out = Path(out) if out else None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from diagkit.errors import DiagError
        from diagkit.inside.self_profile import SelfProfile

        if self.controller:
            return  # the workers run the tests and sample themselves
        out = self.out / self.worker if self.out and self.worker else self.out
        command = ["pytest", *self.config.invocation_params.args]
        try:
            self.profile = SelfProfile(out, stem="pytest", command=command).start()
        except DiagError as exc:
            self.problem = str(exc)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        if self.profile is None:
            return (yield)
        import diagkit

        code = getattr(getattr(item, "function", None), "__code__", None)
        if code is not None:
            self.functions[item.nodeid] = (code.co_filename, code.co_name)
        from diagkit.inside.test_limits import high_water_mark

        before = high_water_mark()
        try:
            with diagkit.range(item.nodeid):
                return (yield)
        finally:
            after = high_water_mark()
            if after > before:  # the test raised the process's high-water mark: its exact peak
                self.exact_peaks[item.nodeid] = after

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.profile is None:
            return
        from diagkit.errors import DiagError
        from diagkit.inside.test_summary import test_rows

        try:
            self.report = self.profile.stop()
        except DiagError as exc:
            self.problem = str(exc)
            return
        self.rows = test_rows(self.report, self._speedscope(), self.functions)
        for row in self.rows:
            row.peak_rss = max(row.peak_rss, self.exact_peaks.get(row.nodeid, 0))
        if self.base is not None:
            self.regressed = self._compare(self.base)
            if self.regressed and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _speedscope(self) -> dict[str, Any] | None:
        name = self.report.files.get("speedscope") if self.report else None
        if not name or self.profile is None:
            return None
        try:
            data: dict[str, Any] = json.loads((self.profile.out_dir / name).read_text())
        except (OSError, ValueError):
            return None
        return data

    def _compare(self, base: Report) -> list[str]:
        from diagkit.compare.changes import diff_reports

        assert self.report is not None
        result = diff_reports(base, self.report)
        pct = self.config.getoption("diag_fail_above")
        return [
            f"{c.name}: {c.base:.3f} s -> {c.new:.3f} s"
            + (f" ({c.vs_rest:+.0%} against the rest of the run)" if c.vs_rest is not None else "")
            for c in result.over(pct)
            if c.kind == "range"
        ]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        tr.section("diag")
        if self.controller:
            where = self.out or Path("diag-reports")
            tr.write_line(
                f"pytest-xdist ran the tests in workers: each sampled itself into {where}/<worker id>"
                if self.out
                else "pytest-xdist ran the tests in workers: each sampled itself into its own folder in ./diag-reports"
            )
            return
        if self.problem and self.report is None:
            tr.write_line(f"no profile: {self.problem}")
            return
        if self.profile is None or self.report is None:
            return
        from diagkit.render.units import fmt_bytes, fmt_s

        tr.write_line(f"report: {self.profile.out_dir}{os.sep}report.html")
        if self.rows:
            tr.write_line(
                f"slowest tests (of {len(self.rows)}): seconds, peak RSS, hottest function"
            )
            for row in self.rows[:SLOWEST]:
                hot = f"{row.hottest} {row.hottest_share:.0%}" if row.hottest else "-"
                tr.write_line(
                    f"  {fmt_s(row.seconds):>10}  {fmt_bytes(row.peak_rss):>10}  {row.nodeid}  {hot}"
                )
        for f in self.report.findings[:3]:
            tr.write_line(f"  {f.severity:<6} {f.message}")
        if self.regressed:
            tr.write_line(
                f"slower than {self.config.getoption('diag_compare')} (the session fails):"
            )
            for line in self.regressed:
                tr.write_line(f"  {line}")
