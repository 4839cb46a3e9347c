"""Damaged report files and GPU exports given to diag: one line naming what is wrong, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from diagkit.model.gpu import GpuSkippedRows
from diagkit.model.report import SCHEMA_VERSION
from tests.conftest import run_diag
from tests.unit.report_data import report_data, set_at

DATA = Path(__file__).resolve().parents[1] / "data" / "nsys"
SYNTH = DATA / "synthetic_kernels_memcpy_nvtx.sqlite"


def _saved(folder: Path, data: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data) if not isinstance(data, str) else data)
    return folder


def _one_error_line(run) -> str:
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("diag: error: "), run.stderr
    return run.stderr.removeprefix("diag: error: ").rstrip("\n")


def test_a_report_written_before_a_field_existed_still_reads(tmp_path):
    data = report_data()
    del data["time"]["nonblocking"], data["time"]["lines"][0]["own_share"]
    del data["gpu"]["skipped_rows"], data["outcome"]["diag_exit_code"]
    run = run_diag(["report", str(_saved(tmp_path / "old", data))], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("outcome", "wall_s", "abc"), "outcome.wall_s: 'abc' is not of type 'number'"),
        (
            ("time", "functions", 0, "line", "3"),
            "time.functions[0].line: '3' is not of type 'integer'",
        ),
        (("outcome", "exception", 5), "outcome.exception: 5 is not of type 'object' or null"),
        (
            ("environment", "variables", {"PATH": 1}),
            "environment.variables.PATH: 1 is not of type 'string'",
        ),
        (
            ("environment", "variables", {"a b": []}),
            "environment.variables['a b']: [] is not of type 'string'",
        ),
        (("notes", "x"), "notes: 'x' is not of type 'array'"),
        (("time", "available", 1), "time.available: 1 is not of type 'boolean'"),
        (("outcome", {"wall_s": 1.0}), "outcome: 'kind' is a required property"),
        (("target", "argv", "x" * 1_000_000), "target.argv: 'xxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(tmp_path, change, message):
    *path, value = change
    _saved(tmp_path / "bad", set_at(report_data(), tuple(path), value))
    line = _one_error_line(run_diag(["report", "bad"], cwd=tmp_path))
    assert line.startswith(f"bad/report.json: {message}")
    assert len(line) < 300  # a megabyte value is not printed whole


def test_report_html_and_diff_refuse_a_damaged_report_with_the_same_line(tmp_path):
    good = _saved(tmp_path / "good", report_data())
    _saved(tmp_path / "bad", set_at(report_data(), ("outcome", "wall_s"), "abc"))
    expected = "bad/report.json: outcome.wall_s: 'abc' is not of type 'number'"
    for args in (
        ["report", "bad"],
        ["report", "--html", "bad"],
        ["diff", "bad", str(good)],
        ["diff", str(good), "bad"],
    ):
        assert _one_error_line(run_diag(args, cwd=tmp_path)) == expected, args
    assert not (tmp_path / "bad" / "report.html").exists()


def test_deeply_nested_json_is_one_line(tmp_path):
    good = _saved(tmp_path / "good", report_data())
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    deep_inside = json.dumps(report_data())[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000
    (tmp_path / "deep_inside.json").write_text(deep_inside + "}")
    for args in (
        ["report", "deep.json"],
        ["report", "--html", "deep.json"],
        ["diff", "deep.json", str(good)],
        ["report", "deep_inside.json"],
    ):
        line = _one_error_line(run_diag(args, cwd=tmp_path))
        assert (
            line
            == f"{args[-2] if args[0] == 'diff' else args[-1]}: not a diag report (JSON nested too deeply)"
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "not a diag report (a JSON list, not an object)"),
        ('{"hello": 1}', "not a diag report (no schema_version)"),
        (
            '{"schema_version": "one"}',
            "not a diag report (schema_version 'one' is not MAJOR.MINOR)",
        ),
        (
            '{"schema_version": "1.0", "x": 1e999}',
            "not a diag report (not JSON: number out of range",
        ),
        ('{"schema_version": "1.0", "x": Infinity}', "not a diag report (not JSON: Infinity"),
        ("{", "not a diag report (not JSON: Expecting property name"),
    ],
)
def test_text_that_is_not_a_report(tmp_path, text, message):
    (tmp_path / "r.json").write_text(text)
    assert _one_error_line(run_diag(["report", "r.json"], cwd=tmp_path)).startswith(
        f"r.json: {message}"
    )


def test_another_major_version_is_refused_with_both_versions(tmp_path):
    for version, age, fix in (("2.0", "newer", "a newer diagkit"), ("0.9", "older", "the diagkit")):
        data = report_data()
        data["schema_version"] = version
        _saved(tmp_path / version, data)
        line = _one_error_line(run_diag(["report", version], cwd=tmp_path))
        assert line.startswith(
            f"{version}/report.json: report schema_version {version} is {age} than this diag "
            f"reads (1.x); read it with {fix}"
        )


def test_a_newer_minor_version_is_read_with_a_note(tmp_path):
    data = report_data()
    data["schema_version"] = "1.7"
    data["outcome"]["added_in_1_7"] = {"anything": [1, 2]}
    _saved(tmp_path / "r", data)
    for args in (["report", "r"], ["report", "--html", "r"]):
        run = run_diag(args, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert run.stderr == (
            "diag: note: r/report.json: report schema_version 1.7 is newer than this diag's "
            f"{SCHEMA_VERSION}; what it added is not shown\n"
        )
    assert (tmp_path / "r" / "report.html").exists()


def test_files_that_cannot_be_read_as_text(tmp_path):
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "report.json").write_bytes(b'{"schema_version": "1.0\xff"}')
    (tmp_path / "dir" / "report.json").mkdir(parents=True)
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "report.json")  # reading it would wait for a writer forever
    cases = {
        "binary": "binary/report.json: not a diag report (not UTF-8 text: invalid start byte)",
        "dir": "dir/report.json: not a regular file",
        "fifo": "fifo/report.json: not a regular file",
    }
    for arg, message in cases.items():
        assert _one_error_line(run_diag(["report", arg], cwd=tmp_path, timeout=60)) == message


def test_a_megabyte_exception_message_is_cut_in_the_terminal_only(tmp_path):
    data = report_data()
    message = "wrong value: " + "v" * 1_000_000
    data["outcome"]["exception"]["message"] = message
    folder = _saved(tmp_path / "r", data)
    run = run_diag(["report", "r"], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout) < 50_000
    words = " ".join(run.stdout.split())  # rich wraps the long word onto lines of its own
    assert "wrong value: vvvv" in words
    assert f"v… [{len(message) - 2000:,} more characters in the report]" in words
    saved = json.loads((folder / "report.json").read_text())
    assert saved["outcome"]["exception"]["message"] == message


# --- GPU exports -------------------------------------------------------------------------


def _export(tmp_path: Path, *updates: str) -> Path:
    """The synthetic export with ``updates`` (SQL) applied to a copy."""
    path = tmp_path / "trace.sqlite"
    shutil.copy(SYNTH, path)
    con = sqlite3.connect(path)
    for sql in updates:
        assert con.execute(sql).rowcount >= 1, sql
    con.commit()
    con.close()
    return path


def _import(tmp_path: Path, export: Path):
    out = tmp_path / "g"
    run = run_diag(["gpu-trace", "--import", str(export), "--out", str(out)], cwd=tmp_path, out=out)
    assert run.returncode == 0, run.stderr
    return run


def test_a_text_timestamp_is_left_out_and_counted(tmp_path):
    export = _export(
        tmp_path, "UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET start = 'abc' WHERE rowid = 1"
    )
    run = _import(tmp_path, export)
    report = run.report
    assert report.gpu.skipped_rows == [
        GpuSkippedRows("CUPTI_ACTIVITY_KIND_KERNEL", "start is text", 1)
    ]
    assert sum(k.time.count for k in report.gpu.kernels) == 1  # of the two in the export
    note = (
        "1 row of the export left out, as they cannot be real events: "
        "1 of CUPTI_ACTIVITY_KIND_KERNEL (start is text)."
    )
    assert note in " ".join(run.stderr.split())
    assert note in (tmp_path / "g" / "report.html").read_text()
    shown = run_diag(["report", "g"], cwd=tmp_path)
    assert note in " ".join(shown.stdout.split())


def test_rows_ending_before_they_start_are_left_out_of_every_number(tmp_path):
    export = _export(
        tmp_path,
        "UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET end = start - 5000000 WHERE rowid = 1",
        "UPDATE CUPTI_ACTIVITY_KIND_MEMCPY SET end = start - 7 WHERE rowid = 2",
        "UPDATE CUPTI_ACTIVITY_KIND_RUNTIME SET end = start - 1 WHERE rowid = 4",
        "UPDATE NVTX_EVENTS SET end = start - 1 WHERE rowid = (SELECT min(rowid) FROM"
        " NVTX_EVENTS WHERE end IS NOT NULL)",
    )
    run = _import(tmp_path, export)
    gpu = run.report.gpu
    assert {(r.table, r.reason, r.count) for r in gpu.skipped_rows} == {
        (t, "end before start", 1)
        for t in (
            "CUPTI_ACTIVITY_KIND_KERNEL",
            "CUPTI_ACTIVITY_KIND_MEMCPY",
            "CUPTI_ACTIVITY_KIND_RUNTIME",
            "NVTX_EVENTS",
        )
    }
    assert 0 <= gpu.idle.idle_share <= 1 and 0 <= gpu.idle.active_idle_share <= 1
    assert gpu.kernel_s > 0 and gpu.copy_s > 0
    assert all(a.time.min_s >= 0 for a in gpu.api_calls)
    assert all(r.time.min_s >= 0 for r in gpu.ranges)
    headline = next(line for line in run.stderr.splitlines() if "GPU idle" in line)
    assert f"GPU idle {gpu.idle.idle_share:.0%}" in headline and "-" not in headline
    for name in run.report.files.values():
        if name.endswith(".csv"):  # the nsys stats layout: no negative time or size in it
            text = (tmp_path / "g" / name).read_text()
            assert ",-" not in text and not text.startswith("-"), name


def test_a_saved_import_is_shown_as_the_import_it_was(tmp_path):
    first = _import(tmp_path, SYNTH).stderr.splitlines()[0]
    shown = run_diag(["report", "g"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == first and f"diag gpu-trace --import {SYNTH}" in " ".join(lines[0].split())
    assert "not sampled" not in shown.stdout and "Memory" not in shown.stdout
    assert "saxpy_kernel" in shown.stdout
