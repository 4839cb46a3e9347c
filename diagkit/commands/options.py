"""Option types for values that click's own types let through: nan, inf, an empty path.

Standard library and click only: ``diag profile`` and ``diag dump`` parse their options
before they load anything else.
"""

from __future__ import annotations

import math
from typing import Any

import click

# Seconds beyond this are no real limit, and past ~9.2e9 Python's waits overflow.
MAX_SECONDS = 1e9


class FiniteFloat(click.FloatRange):
    """A FloatRange that refuses nan (which passes every range check) and infinities."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


def seconds() -> FiniteFloat:
    """A duration: more than 0 and finite."""
    return FiniteFloat(min=0, min_open=True, max=MAX_SECONDS)


class FolderPath(click.Path):
    """A path that may not be empty: ``Path("")`` is the current directory, which nobody means."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value:
            self.fail("an empty path (for the current directory, say '.')", param, ctx)
        return super().convert(value, param, ctx)
