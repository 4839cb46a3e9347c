"""The terminal's tables: borderless, numbers right-aligned, text left.

A fitted table keeps every number whole at any width: paths lose their leading
folders and source text its end before a column of numbers loses a digit. rich,
short of room, narrows every column alike, numbers included; so the text columns
are given a width here that leaves room for the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

from diagkit.render.text import printable

GAP = 2  # between two columns: the right padding of one and the left of the next
MIN_PATH = 14  # "…/name.py:123" still says which file and line
MIN_TEXT = 8


@dataclass
class Column:
    header: str
    kind: str = (
        "text"  # number: never shortened | path: folders dropped first | text: cut at the end
    )
    style: str = ""
    # In a ``table``, a cell too wide wraps onto more lines (a fitted table never wraps).
    wrap: bool = True


def table(columns: Sequence[Column], title: str | None = None) -> Table:
    """An empty table of ``columns``, for rows of rich markup; a ``title`` goes above it."""
    tab = _borderless(title)
    for c in columns:
        tab.add_column(
            c.header,
            justify="right" if c.kind == "number" else "left",
            no_wrap=not c.wrap,
            style=c.style or None,
        )
    return tab


def _borderless(title: str | None = None) -> Table:
    return Table(
        box=None, pad_edge=False, header_style="bold dim", title=title, title_justify="left"
    )


def fitted_table(
    width: int, columns: Sequence[Column], rows: Sequence[Sequence[str | Text]]
) -> Table:
    """A borderless table of ``rows`` no wider than ``width``."""
    need = [max([len(c.header), *(_len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    widths = _share(width - GAP * (len(columns) - 1), columns, need)
    tab = _borderless()
    for c, w in zip(columns, widths, strict=True):
        tab.add_column(
            c.header,
            justify="right" if c.kind == "number" else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=w if c.kind == "number" else None,
            max_width=w,
            style=c.style or None,
        )
    for r in rows:
        tab.add_row(*(_cell(cell, c, w) for c, w, cell in zip(columns, widths, r, strict=True)))
    return tab


def _cell(cell: str | Text, column: Column, width: int) -> Text:
    """A plain string is the program's text: shown as it is, never read as markup."""
    if isinstance(cell, Text):
        return cell
    return Text(printable(fit_path(cell, width) if column.kind == "path" else cell))


def _len(cell: str | Text) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(cell)


def _share(room: int, columns: Sequence[Column], need: list[int]) -> list[int]:
    """Numbers get what they need; paths and text share the rest, a path at most half of it."""
    widths = list(need)
    flexible = [i for i, c in enumerate(columns) if c.kind != "number"]
    left = room - sum(need[i] for i, c in enumerate(columns) if c.kind == "number")
    if sum(need[i] for i in flexible) <= left:
        return widths
    paths = [i for i in flexible if columns[i].kind == "path"]
    texts = [i for i in flexible if columns[i].kind == "text"]
    for i in paths:
        cap = left // 2 if texts else left // max(len(paths), 1)
        widths[i] = min(need[i], max(MIN_PATH, cap // max(len(paths), 1)))
    rest = left - sum(widths[i] for i in paths)
    for i in texts:
        widths[i] = min(need[i], max(MIN_TEXT, rest // len(texts)))
    return widths


def fit_path(path: str, width: int) -> str:
    """``path`` in ``width`` characters: leading folders become "…/" one by one, so the
    file name and line stay; a name still too long keeps its end."""
    if len(path) <= width:
        return path
    parts = path.split("/")
    for start in range(1, len(parts)):
        short = "…/" + "/".join(parts[start:])
        if len(short) <= width:
            return short
    return "…" + path[-(width - 1) :] if width > 1 else path[-width:]
