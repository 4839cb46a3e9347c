"""The findings one side of a diff has and the other has not.

Findings are drawn again from each report's sections (``diagnose``) rather than read from
it: a report written before findings existed, or under other thresholds, is judged by the
same rules as the run beside it.
"""

from __future__ import annotations

from diagkit.diagnose.findings import diagnose
from diagkit.model.findings import Finding
from diagkit.model.report import Report


def _key(f: Finding) -> tuple[str, str]:
    return f.kind, f.where


def finding_changes(base: list[Report], new: list[Report]) -> tuple[list[Finding], list[Finding]]:
    """(the new runs' findings no base run has, the base runs' findings no new run has)."""
    a = {_key(f): f for r in base for f in diagnose(r)}
    b = {_key(f): f for r in new for f in diagnose(r)}
    return [f for k, f in b.items() if k not in a], [f for k, f in a.items() if k not in b]
