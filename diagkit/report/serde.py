"""Dataclass <-> JSON, and JSON Schema from the same type hints.

One walk over the type hints serves all three, so the published schema cannot
drift from the model: ``scripts/gen_schema.py`` writes it and a test compares.
Supported field types: str, int, float, bool, nested dataclasses, ``list[T]``,
``dict[str, T]`` and ``T | None``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")

_PRIMITIVES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def to_dict(obj: Any) -> Any:
    """Serialize a dataclass tree to plain JSON types (a float that is NaN or inf becomes None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    return obj


def from_dict(cls: type[T], data: Any) -> T:
    """Build ``cls`` from JSON data; unknown keys are ignored, missing ones take defaults."""
    return _load(cls, data)


def _load(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if data is None:
            return None
        return _load(args[0], data)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_load(item, v) for v in data]
    if origin is dict:
        _, val = typing.get_args(tp)
        return {k: _load(val, v) for k, v in data.items()}
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        kwargs = {
            f.name: _load(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data
        }
        return tp(**kwargs)
    if tp is float and data is None:
        return float("nan")
    if tp is float and isinstance(data, int):
        return float(data)
    return data


def json_schema(root: type) -> dict[str, Any]:
    """A JSON Schema (2020-12) for ``root``, one ``$defs`` entry per dataclass."""
    defs: dict[str, Any] = {}
    top = _schema_for(root, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": root.__name__,
        **top,
        "$defs": dict(sorted(defs.items())),
    }


def _schema_for(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return {"anyOf": [_schema_for(args[0], defs), {"type": "null"}]}
    if origin is list:
        (item,) = typing.get_args(tp)
        return {"type": "array", "items": _schema_for(item, defs)}
    if origin is dict:
        _, val = typing.get_args(tp)
        return {"type": "object", "additionalProperties": _schema_for(val, defs)}
    if dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder: breaks recursion
            hints = _hints(tp)
            props = {f.name: _schema_for(hints[f.name], defs) for f in dataclasses.fields(tp)}
            entry: dict[str, Any] = {
                "type": "object",
                "properties": props,
                "required": [f.name for f in dataclasses.fields(tp)],
            }
            if tp.__doc__ and not tp.__doc__.startswith(f"{name}("):
                entry["description"] = " ".join(tp.__doc__.split())
            defs[name] = entry
        return {"$ref": f"#/$defs/{name}"}
    if tp is float:
        # NaN and infinities are written as null: JSON has no spelling for them.
        return {"type": ["number", "null"]}
    if tp in _PRIMITIVES:
        return {"type": _PRIMITIVES[tp]}
    raise TypeError(f"unsupported type in report model: {tp!r}")
