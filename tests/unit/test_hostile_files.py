"""Damaged report files and GPU exports: one line naming what is wrong, never a traceback."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import os
import shutil
import sqlite3
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from diagkit.gpu.nsys.sqlite import load
from diagkit.model.gpu import GpuSection, GpuSkippedRows
from diagkit.model.report import SCHEMA_VERSION, Report
from diagkit.model.serde import DataMismatch, from_dict, json_schema, to_dict
from diagkit.render.html.page import render_html
from diagkit.render.terminal.profile import render
from tests.conftest import run_diag

DATA = Path(__file__).resolve().parents[1] / "data" / "nsys"
SYNTH = DATA / "synthetic_kernels_memcpy_nvtx.sqlite"


def _example(tp: Any) -> Any:
    """A JSON value of type ``tp`` with every optional part present and every list non-empty."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _example(next(a for a in typing.get_args(tp) if a is not type(None)))
    if origin is list:
        return [_example(typing.get_args(tp)[0])]
    if origin is dict:
        return {"KEY": _example(typing.get_args(tp)[1])}
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return {f.name: _example(hints[f.name]) for f in dataclasses.fields(tp)}
    return {str: "text", int: 3, float: 1.5, bool: True}[tp]


def _report_data() -> dict[str, Any]:
    data = _example(Report)
    data["schema_version"] = SCHEMA_VERSION
    return data


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out = [(path, value)] if path else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _nodes(v, (*path, i))
    return out


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _wrong(value: Any) -> Any:
    """A value of another JSON type than ``value`` (None is right for every float)."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, int | float):
        return "1"
    if isinstance(value, str):
        return 1.5
    return "not a container"


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


def test_the_loader_refuses_exactly_what_the_schema_refuses():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema(Report, reading=True))
    data = _report_data()
    assert list(validator.iter_errors(data)) == []
    assert to_dict(from_dict(Report, data))["gpu"]["skipped_rows"][0]["count"] == 3
    checked = 0
    for path, value in _nodes(data):
        bad = _set(data, path, _wrong(value))
        errors = list(validator.iter_errors(bad))
        with pytest.raises(DataMismatch) as caught:
            from_dict(Report, bad)
        assert errors, path
        assert tuple(reversed(caught.value.parts)) == path
        assert tuple(jsonschema.exceptions.best_match(errors).absolute_path) == path
        checked += 1
    assert checked > 300  # every field of every section, nested ones included


def test_a_missing_field_is_refused_only_where_the_model_has_no_default():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema(Report, reading=True))
    data = _report_data()
    for path, _ in _nodes(data):
        if isinstance(path[-1], int) or path[-2:-1] in (("variables",), ("files",)):
            continue
        bad = copy.deepcopy(data)
        node = bad
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
        schema_ok = validator.is_valid(bad)
        try:
            from_dict(Report, bad)
            loader_ok = True
        except DataMismatch as exc:
            loader_ok = False
            assert str(exc).endswith(f"{path[-1]!r} is a required property")
        assert loader_ok == schema_ok, path


def test_a_report_written_before_a_field_existed_still_reads(tmp_path):
    data = _report_data()
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
    _saved(tmp_path / "bad", _set(_report_data(), tuple(path), value))
    line = _one_error_line(run_diag(["report", "bad"], cwd=tmp_path))
    assert line.startswith(f"bad/report.json: {message}")
    assert len(line) < 300  # a megabyte value is not printed whole


def test_report_html_and_diff_refuse_a_damaged_report_with_the_same_line(tmp_path):
    good = _saved(tmp_path / "good", _report_data())
    _saved(tmp_path / "bad", _set(_report_data(), ("outcome", "wall_s"), "abc"))
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
    good = _saved(tmp_path / "good", _report_data())
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    deep_inside = json.dumps(_report_data())[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000
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
        data = _report_data()
        data["schema_version"] = version
        _saved(tmp_path / version, data)
        line = _one_error_line(run_diag(["report", version], cwd=tmp_path))
        assert line.startswith(
            f"{version}/report.json: report schema_version {version} is {age} than this diag "
            f"reads (1.x); read it with {fix}"
        )


def test_a_newer_minor_version_is_read_with_a_note(tmp_path):
    data = _report_data()
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


def _hostile_strings(data: Any, text: str) -> Any:
    """Every string in ``data`` (keys of free-form maps too) replaced by ``text``."""
    if isinstance(data, dict):
        return {k: _hostile_strings(v, text) for k, v in data.items()}
    if isinstance(data, list):
        return [_hostile_strings(v, text) for v in data]
    return text if isinstance(data, str) else data


@pytest.mark.parametrize("text", ["[/]", "[bold red]x", "caf\udcff.py", "\ud800"])
def test_every_string_of_a_report_can_be_shown(tmp_path, text):
    data = _hostile_strings(_report_data(), text)
    data["schema_version"], data["target"]["kind"] = SCHEMA_VERSION, "script"
    data["deep"]["passes"][0]["name"] = "tracers"  # shown unescaped by terminal_deep
    report = from_dict(Report, data)
    out = io.StringIO()
    render(report, Console(file=out, width=120, color_system=None), tmp_path)
    shown = out.getvalue()
    page = render_html(report, tmp_path)
    page.encode("utf-8")  # would raise on a lone surrogate
    if "\udcff" in text:
        assert "caf\\xff.py" in shown and "caf\\\\xff.py" in page
    if text.startswith("["):
        assert text in shown


def _all_numbers(data: Any, whole: int, real: float | None) -> Any:
    if isinstance(data, dict):
        return {k: _all_numbers(v, whole, real) for k, v in data.items()}
    if isinstance(data, list):
        return [_all_numbers(v, whole, real) for v in data]
    if isinstance(data, bool) or not isinstance(data, int | float):
        return data
    return whole if isinstance(data, int) else real


@pytest.mark.parametrize(
    ("whole", "real"), [(0, None), (-1, -1.0), (10**30, 1e300), (-(10**30), -1e300)]
)
def test_every_number_of_a_report_at_an_extreme_can_be_shown(tmp_path, whole, real):
    data = _all_numbers(_report_data(), whole, real)
    data["target"]["kind"] = "script"
    report = from_dict(Report, data)
    render(report, Console(file=io.StringIO(), width=120, color_system=None), tmp_path)
    assert "<title>" in render_html(report, tmp_path)  # null (NaN) shares reach the page as null


def test_a_megabyte_exception_message_is_cut_in_the_terminal_only(tmp_path):
    data = _report_data()
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


def test_any_column_holding_the_wrong_kind_of_value_is_read_or_skipped(tmp_path):
    con = sqlite3.connect(SYNTH)
    tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    columns = {t: [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')] for t in tables}
    con.close()
    path = tmp_path / "t.sqlite"
    tried = 0
    for table, cols in columns.items():
        for col in cols:
            for value in ("'text'", "x'ff00'", "2.5", "NULL"):
                shutil.copy(SYNTH, path)
                con = sqlite3.connect(path)
                try:
                    con.execute(f'UPDATE "{table}" SET "{col}" = {value} WHERE rowid = 1')
                except sqlite3.IntegrityError:  # an INTEGER PRIMARY KEY holds integers only
                    continue
                finally:
                    con.commit()
                    con.close()
                section = load(path)  # a DiagError would fail the test too: these are readable
                # What diag saves from it must read back under its own checks.
                assert from_dict(GpuSection, json.loads(json.dumps(to_dict(section)))) is not None
                tried += 1
    assert tried > 300


def test_a_saved_import_is_shown_as_the_import_it_was(tmp_path):
    first = _import(tmp_path, SYNTH).stderr.splitlines()[0]
    shown = run_diag(["report", "g"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == first and f"diag gpu-trace --import {SYNTH}" in " ".join(lines[0].split())
    assert "not sampled" not in shown.stdout and "Memory" not in shown.stdout
    assert "saxpy_kernel" in shown.stdout


def test_a_saved_gpu_trace_run_is_titled_with_its_command():
    data = _report_data()
    data["command"], data["target"]["kind"] = ["diag", "gpu-trace", "fit.py"], "script"
    data["target"]["argv"] = ["fit.py"]
    out = io.StringIO()
    render(from_dict(Report, data), Console(file=out, width=80, color_system=None))
    assert " diag gpu-trace fit.py " in out.getvalue().splitlines()[0]
