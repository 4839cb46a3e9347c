"""Damaged and extreme reports and GPU exports read in this process: the loader refuses what the
schema refuses, and whatever it accepts can be shown."""

from __future__ import annotations

import copy
import io
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from diagkit.gpu.nsys.sqlite import load
from diagkit.model.gpu import GpuSection
from diagkit.model.report import SCHEMA_VERSION, Report
from diagkit.model.serde import DataMismatch, from_dict, json_schema, to_dict
from diagkit.render.html.page import render_html
from diagkit.render.terminal.profile import render
from tests.unit.report_data import report_data, set_at

DATA = Path(__file__).resolve().parents[1] / "data" / "nsys"
SYNTH = DATA / "synthetic_kernels_memcpy_nvtx.sqlite"


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out = [(path, value)] if path else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _nodes(v, (*path, i))
    return out


def _wrong(value: Any) -> Any:
    """A value of another JSON type than ``value`` (None is right for every float)."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, int | float):
        return "1"
    if isinstance(value, str):
        return 1.5
    return "not a container"


def test_the_loader_refuses_exactly_what_the_schema_refuses():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema(Report, reading=True))
    data = report_data()
    assert list(validator.iter_errors(data)) == []
    assert to_dict(from_dict(Report, data))["gpu"]["skipped_rows"][0]["count"] == 3
    checked = 0
    for path, value in _nodes(data):
        bad = set_at(data, path, _wrong(value))
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
    data = report_data()
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


def _hostile_strings(data: Any, text: str) -> Any:
    """Every free-form string in ``data`` (the example's "text") replaced by ``text``; a
    word of a closed set (``model/kinds.py``) stays, as any other is refused on loading."""
    if isinstance(data, dict):
        return {k: _hostile_strings(v, text) for k, v in data.items()}
    if isinstance(data, list):
        return [_hostile_strings(v, text) for v in data]
    return text if data == "text" else data


@pytest.mark.parametrize("text", ["[/]", "[bold red]x", "caf\udcff.py", "\ud800"])
def test_every_string_of_a_report_can_be_shown(tmp_path, text):
    data = _hostile_strings(report_data(), text)
    data["schema_version"], data["target"]["kind"] = SCHEMA_VERSION, "script"
    data["deep"]["passes"][0]["name"] = "tracers"  # shown unescaped by terminal_deep
    report = from_dict(Report, data)
    out = io.StringIO()
    render(report, Console(file=out, width=120, color_system=None), tmp_path)
    shown = out.getvalue()
    page = render_html(report)
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
    data = _all_numbers(report_data(), whole, real)
    data["target"]["kind"] = "script"
    report = from_dict(Report, data)
    render(report, Console(file=io.StringIO(), width=120, color_system=None), tmp_path)
    assert "<title>" in render_html(report)  # null (NaN) shares reach the page as null


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


def test_a_saved_gpu_trace_run_is_titled_with_its_command():
    data = report_data()
    data["command"], data["target"]["kind"] = ["diag", "gpu-trace", "fit.py"], "script"
    data["target"]["argv"] = ["fit.py"]
    out = io.StringIO()
    render(from_dict(Report, data), Console(file=out, width=80, color_system=None))
    assert " diag gpu-trace fit.py " in out.getvalue().splitlines()[0]
