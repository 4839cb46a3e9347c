"""The head of every saved result: its schema, the diag that wrote it, when, and the command.

Made when the work starts, so that ``created`` is the start of a run, not its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from diagkit._version import __version__
from diagkit.model.report import SCHEMA_VERSION, Outcome, Report, Target

if TYPE_CHECKING:
    from diagkit.model.dask_dump import ClusterDump
    from diagkit.model.dump import DumpResult


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Header:
    command: list[str]
    created: str = field(default_factory=now)

    def report(self, target: Target, outcome: Outcome, **sections: Any) -> Report:
        """A Report with this head; ``sections`` are Report's other fields, by name."""
        return Report(
            schema_version=SCHEMA_VERSION,
            diagkit_version=__version__,
            created=self.created,
            command=self.command,
            target=target,
            outcome=outcome,
            **sections,
        )

    def dump_result(self, **fields: Any) -> DumpResult:
        """What ``diag dump --json`` prints, with this head; ``fields`` are DumpResult's others."""
        from diagkit.model.dump import DUMP_SCHEMA_VERSION, DumpResult  # not for diag profile

        return DumpResult(
            schema_version=DUMP_SCHEMA_VERSION,
            diagkit_version=__version__,
            created=self.created,
            command=self.command,
            **fields,
        )

    def cluster_dump(self, address: str) -> ClusterDump:
        """What ``diag dump --dask --json`` prints, with this head."""
        from diagkit.model.dask_dump import DASK_DUMP_SCHEMA_VERSION, ClusterDump

        return ClusterDump(
            schema_version=DASK_DUMP_SCHEMA_VERSION,
            diagkit_version=__version__,
            created=self.created,
            command=self.command,
            address=address,
        )
