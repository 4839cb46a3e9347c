"""Every saved result starts with the same head: schema, diag's version, when, which command."""

from __future__ import annotations

from datetime import datetime, timedelta

from diagkit import __version__
from diagkit.model.dump import DUMP_SCHEMA_VERSION, DumpResult
from diagkit.model.report import SCHEMA_VERSION, Outcome, Report, Target, TimeSection
from diagkit.run.header import Header


def test_a_report_has_the_report_schema_and_is_dated_in_utc():
    header = Header(["diag", "profile", "x.py"])
    target = Target(argv=["x.py"], kind="script", cwd="/", python="python")
    report = header.report(target, Outcome(kind="exit"), time=TimeSection(available=False))
    assert (report.schema_version, report.diagkit_version) == (SCHEMA_VERSION, __version__)
    assert report.created == header.created and datetime.fromisoformat(
        report.created
    ).utcoffset() == timedelta(0)
    assert report.command == ["diag", "profile", "x.py"] and report.target is target
    assert not report.time.available
    assert Report.from_json(report.to_json()) == report


def test_a_dump_result_has_the_dump_schema():
    result = Header(["diag", "dump", "--pid", "1"]).dump_result(repeat=3, notes=["n"])
    assert (result.schema_version, result.diagkit_version) == (DUMP_SCHEMA_VERSION, __version__)
    assert (result.command, result.repeat, result.notes) == (
        ["diag", "dump", "--pid", "1"],
        3,
        ["n"],
    )
    assert DumpResult.from_json(result.to_json()) == result
