"""diagkit: where did the time go, where did the memory go, what is the GPU doing, where is it stuck.

The package root stays import-light on purpose: estimator code imports it for
``diagkit.range`` and ``diagkit.check_finite``, and that must cost next to nothing
when no ``diag`` run is active.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from diagkit._version import __version__
from diagkit.api import NumericWarning, check_finite, range

if TYPE_CHECKING:
    from diagkit.inside.self_profile import SelfProfile
    from diagkit.model.report import Report

__all__ = ["NumericWarning", "__version__", "check_finite", "load_report", "profile", "range"]


def profile(out: Any = None, **options: Any) -> SelfProfile:
    """``with diagkit.profile() as run: ...`` then ``run.report``: this process sampled from
    outside by py-spy for the block, with its RSS, Numba compiles, warnings, GC, logs and
    ``diagkit.range`` stages. ``out``: the report folder (default: a new one in
    ./diag-reports); ``rate``, ``native``, ``log_level`` as on the command line."""
    from diagkit.inside.self_profile import SelfProfile

    return SelfProfile(out, **options)


def load_report(path: Any) -> Report:
    """The Report saved in a folder (or a report.json), checked field by field."""
    from pathlib import Path

    from diagkit.errors import DiagError
    from diagkit.model.store import UnreadableReport
    from diagkit.model.store import load_report as read

    try:
        return read(Path(path))[0].report
    except UnreadableReport as exc:
        raise DiagError(str(exc)) from None


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext diagkit``: the ``%diag`` and ``%%diag`` magics."""
    from diagkit.inside.magics import load

    load(ipython)
