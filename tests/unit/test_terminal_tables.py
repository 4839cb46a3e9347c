"""The terminal's tables come from one helper: numbers right, text left, wrapping only where asked."""

from __future__ import annotations

import io

from rich.console import Console

from diagkit.render.terminal.table_fit import Column, table


def test_numbers_are_right_aligned_and_only_a_wrapping_column_takes_more_lines():
    tab = table(
        [Column("count", "number"), Column("kept", wrap=False), Column("wrapped")],
        title="Title",
    )
    tab.add_row("7", "alpha beta gamma", "one two three four five six seven eight")
    con = Console(width=40, record=True, color_system=None, file=io.StringIO())
    con.print(tab)
    lines = [ln.rstrip() for ln in con.export_text().splitlines()]
    assert lines[:3] == [
        "Title",
        "count  kept              wrapped",
        "    7  alpha beta gamma  one two three",
    ]
    assert lines[3:] == [" " * 25 + "four five six", " " * 25 + "seven eight"]
