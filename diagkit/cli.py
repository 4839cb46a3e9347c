"""The ``diag`` command: a click group whose subcommands live one per module in ``commands/``."""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import sys

import click

from diagkit._version import __version__
from diagkit.errors import DiagError, ExitCode


class _LazyGroup(click.Group):
    """Imports a command's module only when that command is run or listed.

    The commands' dependencies (rich, psutil, the report model) take ~150 ms to
    import; ``diag dump`` must answer faster than that costs.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy: dict[str, str] = {}  # command name -> "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click cuts each description to one line with "..."; wrapped, the sentence says it all.
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diag")
def cli() -> None:
    """Diagnostics for Python estimators: where the time, the memory and the GPU went."""


def _register() -> None:
    assert isinstance(cli, _LazyGroup)
    cli.lazy.update(
        profile="diagkit.commands.profile:profile",
        report="diagkit.commands.report:report",
        dump="diagkit.commands.dump:dump",
    )
    cli.lazy["gpu-trace"] = "diagkit.commands.gpu_trace:gpu_trace"
    cli.lazy["diff"] = "diagkit.commands.diff:diff"


_register()
# The interpreter's collections at exit walk every object diag made (~10-15 ms after a run);
# the process's memory goes back to the system whole, and diag closes its files itself.
atexit.register(gc.freeze)


def main(argv: list[str] | None = None) -> int:
    """Entry point: every DiagError or click usage error becomes one line and a non-zero exit."""
    try:
        rv = cli.main(args=argv, prog_name="diag", standalone_mode=False)
    except DiagError as exc:
        _say(f"diag: error: {exc.message}")
        return exc.exit_code
    except click.exceptions.Abort:
        _say("diag: aborted")
        return ExitCode.SIGINT
    except click.ClickException as exc:
        # click's own usage errors: keep them to one line plus the hint it gives.
        msg = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _say(f"diag: error: {msg}{hint}")
        return exc.exit_code
    return int(rv) if isinstance(rv, int) else ExitCode.OK


def _say(line: str) -> None:
    """One line on stderr; a closed or broken stderr must not turn the exit status into 1."""
    with contextlib.suppress(OSError, ValueError):
        click.echo(line, err=True)


if __name__ == "__main__":
    sys.exit(main())
