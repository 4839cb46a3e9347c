"""The ``--deep`` options of ``diag profile``: checked before the sampled pass, run after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from diagkit.errors import DiagError, UsageError

if TYPE_CHECKING:  # the passes pull in pstats and the code index: only for --deep runs
    from diagkit.deep.config import DeepRequest
    from diagkit.model.report import Report
    from diagkit.run.deep_passes import Named
    from diagkit.run.launch import ProfileOptions


def deep_request(
    deep: bool, lines: str | None, memory_lines: str | None, no_jit: bool, attach: bool
) -> DeepRequest | None:
    """None without ``--deep``; ``--lines``, ``--memory-lines`` and ``--no-jit`` imply it."""
    if not (deep or lines or memory_lines or no_jit):
        return None
    if attach:
        raise DiagError("--deep runs the program again under tracers: it cannot attach to --pid")
    from diagkit.deep.config import DeepRequest  # imported by --deep runs alone

    return DeepRequest(_names(lines), _names(memory_lines), no_jit)


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


@dataclass
class DeepPlan:
    request: DeepRequest
    named: Named
    quiet: bool

    def run(self, report: Report, opts: ProfileOptions) -> None:
        """Each deep pass says its own pace (``deep.pace``), measured against the sampled pass."""
        from diagkit.run.deep_passes import run_deep

        run_deep(report, opts, self.request, self.named, self._say)

    def _say(self, text: str) -> None:
        if not self.quiet:
            click.echo(f"diag: {text}", err=True)


def plan_deep(request: DeepRequest, kind: str, target: str, quiet: bool) -> DeepPlan:
    """Resolve the named functions before the program runs: a name that does not resolve
    would otherwise cost a whole sampled pass and two deep ones before anyone saw the typo."""
    from diagkit.run.deep_passes import resolve_names

    named = resolve_names(request, kind, target)
    if named.problems:
        raise UsageError("; ".join(named.problems))
    return DeepPlan(request, named, quiet)
