"""Option values that click's own types let through, on every command; default folder names."""

from __future__ import annotations

import click
import pytest

from diagkit.cli import cli
from diagkit.run import folders


def _options() -> list[tuple[str, click.Option]]:
    ctx = click.Context(cli)
    found = []
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        found += [(name, p) for p in cmd.params if isinstance(p, click.Option)]
    return found


FLOATS = [(c, p) for c, p in _options() if isinstance(p.type, click.FloatRange)]


def test_the_float_options_are_all_found():
    names = {(c, p.name) for c, p in FLOATS}
    assert {("diff", "fail_above"), ("profile", "timeout"), ("dump", "interval")} <= names
    assert ("diff", "min_share") in names and ("profile", "duration") in names


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
@pytest.mark.parametrize(("command", "option"), FLOATS, ids=[f"{c}-{p.name}" for c, p in FLOATS])
def test_no_float_option_takes_a_non_finite_value(command, option, value):
    # nan passes every range check (every comparison with it is false): a --fail-above nan
    # gate would never fail and a --timeout nan would never stop the program.
    with pytest.raises(click.BadParameter):
        option.type.convert(value, option, None)


@pytest.mark.parametrize(("command", "option"), FLOATS, ids=[f"{c}-{p.name}" for c, p in FLOATS])
def test_float_options_still_take_ordinary_values(command, option):
    assert option.type.convert("1.5", option, None) == 1.5


OUTS = [(c, p) for c, p in _options() if p.name == "out"]


@pytest.mark.parametrize(("command", "option"), OUTS, ids=[c for c, _ in OUTS])
def test_no_out_option_takes_an_empty_path(command, option):
    with pytest.raises(click.BadParameter, match="empty path"):
        option.type.convert("", option, None)
    assert str(option.type.convert(".", option, None)) == "."


def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path, monkeypatch):
    # Two runs that both chose a name before either made its folder would share it:
    # the name is only taken by making the folder.
    monkeypatch.chdir(tmp_path)
    first, second = folders.default_out_dir("same"), folders.default_out_dir("same")
    assert first != second
    assert first.is_dir() and second.is_dir()
    assert first.parent == second.parent == tmp_path.joinpath("diag-reports").relative_to(tmp_path)
