"""A report with every optional part present and every list non-empty, as JSON data, to damage."""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from typing import Any

from diagkit.model.report import SCHEMA_VERSION, Report


def example(tp: Any) -> Any:
    """A JSON value of type ``tp`` with every optional part present and every list non-empty."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return example(next(a for a in typing.get_args(tp) if a is not type(None)))
    if origin is list:
        return [example(typing.get_args(tp)[0])]
    if origin is dict:
        return {"KEY": example(typing.get_args(tp)[1])}
    if origin is typing.Literal:  # one of a closed set of words: a word that says something
        return next((w for w in typing.get_args(tp) if w), typing.get_args(tp)[0])
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return {f.name: example(hints[f.name]) for f in dataclasses.fields(tp)}
    return {str: "text", int: 3, float: 1.5, bool: True}[tp]


def report_data() -> dict[str, Any]:
    data = example(Report)
    data["schema_version"] = SCHEMA_VERSION
    return data


def set_at(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``data`` with ``value`` at ``path`` (keys and list indexes)."""
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data
