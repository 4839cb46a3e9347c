"""A saved report.json read back: every way the text can be wrong is one sentence.

Versions are MAJOR.MINOR (``model.SCHEMA_VERSION``). A new minor only adds fields
that have defaults, so a report of a newer minor is read (what was added is left
out, and the caller is told); a new major renames, removes or retypes fields, so a
report of another major is refused rather than misread.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from diagkit.model.report import SCHEMA_VERSION, Report
from diagkit.model.serde import DataMismatch, from_dict

_VERSION = re.compile(r"(\d+)\.(\d+)")
# diag writes counts, bytes and nanoseconds, all within 64 bits; a longer integer would
# overflow the first float it meets in a renderer or in ``diag diff``.
_INT_LIMIT = 2**64
_LONG_DIGITS = re.compile(r"\d{20}")  # no integer diag writes is this long


class NotAReport(ValueError):
    """The text is not a report this diag can read; the message says why."""


@dataclass
class ReadReport:
    report: Report
    note: str = ""  # for the reader: what was left out of a newer report


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: diag writes null for what is not finite
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _constant(name: str) -> float:
    # NaN reads as null does (a time not measured); an infinity is no time at all.
    if name == "NaN":
        return math.nan
    raise ValueError(f"{name} is not a number diag writes")


def _parse(text: str) -> Any:
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_constant)
    except RecursionError:
        raise NotAReport("not a diag report (JSON nested too deeply)") from None
    except ValueError as exc:
        raise NotAReport(f"not a diag report (not JSON: {exc})") from None


def _check_integers(raw: Any) -> None:
    """Refuse an integer beyond 64 bits, naming its field."""
    todo: list[tuple[Any, list[str | int]]] = [(raw, [])]
    while todo:
        node, parts = todo.pop()
        if isinstance(node, dict):
            todo.extend((v, [k, *parts]) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((v, [i, *parts]) for i, v in enumerate(node))
        elif type(node) is int and abs(node) >= _INT_LIMIT:
            digits = str(abs(node))
            shown = digits if len(digits) <= 24 else f"{digits[:10]}…{digits[-10:]}"
            shown = f"-{shown}" if node < 0 else shown
            exc = DataMismatch(
                f"{shown} ({len(digits)} digits) is beyond the 64-bit integers diag writes"
            )
            exc.parts = parts
            raise NotAReport(str(exc))


def _version(raw: Any) -> tuple[int, int]:
    if not isinstance(raw, dict):
        raise NotAReport(f"not a diag report (a JSON {type(raw).__name__}, not an object)")
    version = raw.get("schema_version")
    if not isinstance(version, str):
        raise NotAReport("not a diag report (no schema_version)")
    m = _VERSION.fullmatch(version)
    if m is None:
        raise NotAReport(f"not a diag report (schema_version {version[:40]!r} is not MAJOR.MINOR)")
    return int(m[1]), int(m[2])


def parse_report(text: str) -> ReadReport:
    """The report in ``text``; NotAReport (a ValueError) naming what is wrong."""
    raw = _parse(text)
    major, minor = _version(raw)
    ours, our_minor = (int(v) for v in SCHEMA_VERSION.split("."))
    if major != ours:
        age, fix = (
            ("newer", "a newer diagkit") if major > ours else ("older", "the diagkit that wrote it")
        )
        raise NotAReport(
            f"report schema_version {major}.{minor} is {age} than this diag reads "
            f"({ours}.x); read it with {fix}"
        )
    if _LONG_DIGITS.search(text):  # a walk over every value only when one may be too long
        _check_integers(raw)
    note = ""
    if minor > our_minor:
        note = (
            f"report schema_version {major}.{minor} is newer than this diag's {SCHEMA_VERSION}; "
            "what it added is not shown"
        )
    try:
        return ReadReport(from_dict(Report, raw), note)
    except DataMismatch as exc:
        raise NotAReport(str(exc)) from None
