"""Fields that take one word of a closed set (model/kinds.py): refused outside it, enums in the schema."""

from __future__ import annotations

import copy
import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from diagkit.model.kinds import OutcomeKind, TargetKind
from diagkit.model.reading import NotAReport, parse_report
from diagkit.model.report import Report
from diagkit.model.serde import DataMismatch, from_dict, json_schema
from tests.conftest import ROOT
from tests.unit.report_data import report_data, set_at


def _closed_fields(tp: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """(path in the example report, Literal type) of every closed-word field."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _closed_fields(next(a for a in typing.get_args(tp) if a is not type(None)), path)
    if origin is list:
        return _closed_fields(typing.get_args(tp)[0], (*path, 0))
    if origin is dict:
        return _closed_fields(typing.get_args(tp)[1], (*path, "KEY"))
    if origin is Literal:
        return [(path, tp)]
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return [
            found
            for f in dataclasses.fields(tp)
            for found in _closed_fields(hints[f.name], (*path, f.name))
        ]
    return []


def test_a_report_whose_outcome_kind_is_misspelt_is_refused_with_the_field_path():
    data = report_data()
    data["outcome"]["kind"] = "exitt"
    with pytest.raises(NotAReport) as caught:
        parse_report(json.dumps(data))
    words = list(typing.get_args(OutcomeKind))
    assert str(caught.value) == f"outcome.kind: 'exitt' is not one of {words!r}"


def test_a_word_outside_its_set_is_refused_where_the_schema_refuses_it():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema(Report, reading=True))
    data = report_data()
    fields = _closed_fields(Report)
    shown = {".".join(str(p) for p in path) for path, _ in fields}
    # Those named in the model's rules, and those found in the readers' code.
    assert {"target.kind", "outcome.kind", "time.functions.0.kind"} <= shown
    assert "stacks.threads.0.verdict" in shown
    for path, tp in fields:
        assert from_dict(Report, data)  # the example holds a word of each set
        bad = set_at(data, path, "not-a-word")
        with pytest.raises(DataMismatch) as caught:
            from_dict(Report, bad)
        assert tuple(reversed(caught.value.parts)) == path
        assert caught.value.problem == f"'not-a-word' is not one of {list(typing.get_args(tp))!r}"
        best = jsonschema.exceptions.best_match(validator.iter_errors(bad))
        assert (tuple(best.absolute_path), best.validator) == (path, "enum")


def test_every_word_of_a_set_is_read_back():
    data = report_data()
    for path, tp in _closed_fields(Report):
        for word in typing.get_args(tp):
            got = from_dict(Report, set_at(data, path, word))
            node: Any = got
            for part in path:
                node = node[part] if isinstance(part, int) else getattr(node, part)
            assert node == word


def test_the_published_schema_lists_each_set_as_an_enum():
    published = json.loads((ROOT / "docs" / "report.schema.json").read_text())
    defs = published["$defs"]
    assert defs["Outcome"]["properties"]["kind"] == {"enum": list(typing.get_args(OutcomeKind))}
    assert defs["Target"]["properties"]["kind"] == {"enum": list(typing.get_args(TargetKind))}
    assert defs["FunctionTime"]["properties"]["kind"] == {"enum": ["python", "native"]}


@dataclass
class _Maybe:
    word: Literal["a", "b"] | None = None


def test_an_optional_word_takes_null_and_names_both_when_wrong():
    assert from_dict(_Maybe, {"word": None}).word is None
    assert from_dict(_Maybe, {"word": "b"}).word == "b"
    with pytest.raises(DataMismatch, match=r"^word: 'c' is not one of \['a', 'b'\]$"):
        from_dict(_Maybe, {"word": "c"})
    with pytest.raises(DataMismatch, match=r"^word: 1.5 is not of type 'string' or null$"):
        from_dict(_Maybe, {"word": 1.5})
    schema = json_schema(_Maybe)["$defs"]["_Maybe"]["properties"]["word"]
    assert schema == {"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}]}


def test_a_set_of_other_than_words_is_not_taken_into_the_model():
    @dataclass
    class Numbered:
        n: Literal[1, 2]

    with pytest.raises(TypeError, match="a Literal takes strings"):
        from_dict(Numbered, {"n": 1})
    with pytest.raises(TypeError, match="a Literal takes strings"):
        json_schema(Numbered)


def test_an_older_report_with_a_word_of_each_set_reads_and_a_newer_field_is_left_out():
    data = copy.deepcopy(report_data())
    data["schema_version"] = "1.1"
    del data["outcome"]["bad_target"]  # 1.1 had no such field
    assert parse_report(json.dumps(data)).report.outcome.bad_target == ""
