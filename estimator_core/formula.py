"""The covariates of ``att_gt``: R's one-sided formula (``"~ x1 + x2"``) or a list of columns.

Only column names joined by ``+`` are understood; anything R would expand
(interactions, transformations, removing the intercept) is refused rather than
read as a column name, because a silently different design is worse than an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# What would make a term an expression in R rather than a column name.
_OPERATORS = re.compile(r"[*:^()/|%\-~]")


def covariate_names(xformla: str | Sequence[str] | None) -> tuple[str, ...]:
    """Column names of the covariates: ``None``, ``"~1"`` and ``[]`` mean none."""
    if xformla is None:
        return ()
    if not isinstance(xformla, str):
        names = tuple(xformla)
        if not all(isinstance(c, str) for c in names):
            raise TypeError(f"xformla must be a formula string or column names, got {xformla!r}")
        return names
    lhs, tilde, rhs = xformla.partition("~")
    if not tilde or lhs.strip():
        raise ValueError(
            f"xformla must be a one-sided formula such as '~ x1 + x2' (or a list of column "
            f"names), got {xformla!r}"
        )
    terms = [t.strip() for t in rhs.split("+")]
    if "" in terms or any(_OPERATORS.search(t) for t in terms):
        raise ValueError(
            f"xformla {xformla!r}: only column names joined by '+' are supported "
            "(an intercept is always included)"
        )
    if "0" in terms:
        raise ValueError(f"xformla {xformla!r}: the intercept cannot be removed")
    return tuple(dict.fromkeys(t for t in terms if t != "1"))
