"""The ``diag`` command: a click group whose subcommands live one per module in ``commands/``."""

from __future__ import annotations

import sys

import click

from diagkit import __version__
from diagkit.errors import DiagError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diag")
def cli() -> None:
    """Diagnostics for Python estimators: where the time, the memory and the GPU went."""


def _register() -> None:
    from diagkit.commands import profile
    from diagkit.commands import report as report_cmd

    cli.add_command(profile.profile)
    cli.add_command(report_cmd.report)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point: every DiagError or click usage error becomes one line and a non-zero exit."""
    try:
        rv = cli.main(args=argv, prog_name="diag", standalone_mode=False)
    except DiagError as exc:
        click.echo(f"diag: error: {exc.message}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("diag: aborted", err=True)
        return 130
    except click.ClickException as exc:
        # click's own usage errors: keep them to one line plus the hint it gives.
        msg = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        click.echo(f"diag: error: {msg}{hint}", err=True)
        return exc.exit_code
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
