"""What the report says to fix first: findings drawn from the other sections, ranked."""

from __future__ import annotations

from dataclasses import dataclass, field

from diagkit.model.kinds import FindingKind, Severity


@dataclass
class Evidence:
    """One number behind a finding, as measured: ``unit`` is "s", "share" (0-1), "bytes",
    "count" or "ratio"."""

    name: str
    value: float
    unit: str


@dataclass
class Finding:
    kind: FindingKind
    severity: Severity
    message: str  # one line, naming the function, file:line or module concerned
    advice: str  # what to try
    where: str = ""  # that function, file:line or module alone
    at_stake_s: float = 0.0  # the run's seconds the finding concerns: the ranking's key
    evidence: list[Evidence] = field(default_factory=list)
