"""Strings from the program, made fit to show: undecodable bytes escaped, long text cut.

A file name or argument that is not valid UTF-8 reaches Python as lone surrogates
(``surrogateescape``): no encoder accepts them, so writing one to a UTF-8 terminal
or page fails. They are shown as the bytes they stand for, ``\\xff``; report.json
keeps them exactly, as JSON escapes, for a tool that wants the bytes back.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(m: re.Match[str]) -> str:
    code = ord(m.group())
    # surrogateescape maps byte 0xNN (0x80-0xff) to U+DCNN; other lone surrogates have no byte.
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every lone surrogate written out, so it encodes as UTF-8."""
    return _SURROGATE.sub(_escaped, text)


def json_printable(text: str) -> str:
    """The same inside JSON text: the backslash doubled, so the string reads ``\\xff``."""
    return _SURROGATE.sub(lambda m: "\\" + _escaped(m), text)


def clip(text: str, chars: int = 2000, lines: int = 20) -> str:
    """At most ``chars`` characters and ``lines`` lines, saying how much was left out.

    For the terminal: a message can quote a megabyte of the program's text; the report keeps it
    whole."""
    cut = text
    parts = text.split("\n", lines)
    if len(parts) > lines:
        cut = "\n".join(parts[:lines])
    if len(cut) > chars:
        cut = cut[:chars]
    if cut == text:
        return text
    return f"{cut}… [{len(text) - len(cut):,} more characters in the report]"


def markup(text: str) -> str:
    """A program's string for a rich console: undecodable bytes escaped, no markup read in it."""
    from rich.markup import escape  # the page needs none of rich (~10 ms to import)

    return escape(printable(text))
