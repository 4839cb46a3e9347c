"""The terminal summary of a real run at the widths terminals have: every number whole."""

from __future__ import annotations

import io
import re
import sys

import pytest
from rich.console import Console

from diagkit.model.report import Report
from diagkit.render.terminal.profile import render
from diagkit.render.units import fmt_bytes
from tests.conftest import run_diag

WIDTHS = (60, 80, 120)
# Long folders, a long file name and long lines: what squeezes a table first.
FOLDER = "some/longish/folder/of/an/estimator"
CODE = """
import numpy as np

def build_the_design_matrix_for_the_estimator(n):
    blocks = [np.random.default_rng(i).standard_normal((n, 40)) for i in range(20)]  # one block per cell of the design
    return np.concatenate(blocks)

def accumulate_the_influence_functions_in_a_loop(n):
    total = 0
    for i in range(n):
        total += (i * 3 + 7) % 11 if i % 2 else (i * 5 + 1) % 13  # the odd and the even draws alike
    return total

design = build_the_design_matrix_for_the_estimator(20_000)
accumulate_the_influence_functions_in_a_loop(1_500_000)
"""


def _profile(tmp_path, *flags: str) -> Report:
    target = tmp_path / FOLDER / "estimator_with_a_rather_long_name.py"
    target.parent.mkdir(parents=True)
    target.write_text(CODE)
    r = run_diag(["profile", "-q", *flags, str(target.relative_to(tmp_path))], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return r.report


def _rendered(report: Report, width: int) -> list[str]:
    out = io.StringIO()
    render(report, Console(file=out, width=width, color_system=None, soft_wrap=False))
    return out.getvalue().splitlines()


def _section(lines: list[str], title: str) -> list[str]:
    """The rows of the table under ``title``: after its header, up to a blank line or the
    largest block's traceback."""
    start = next(i for i, ln in enumerate(lines) if ln.startswith(title))
    head = next(i for i in range(start, len(lines)) if lines[i].split()[:1] in (["own"], ["bytes"]))
    ends = (
        i for i in range(head, len(lines)) if not lines[i].strip() or "largest block" in lines[i]
    )
    end = next(ends, len(lines))
    return lines[head + 1 : end]


@pytest.fixture(scope="module")
def sampled(tmp_path_factory) -> Report:
    return _profile(tmp_path_factory.mktemp("terminal"))


@pytest.mark.parametrize("width", WIDTHS)
def test_hot_lines_keep_own_and_total_and_show_each_line_once(sampled, width):
    rows = _section(_rendered(sampled, width), "Hot lines")
    assert rows, "no hot lines"
    places = []
    for row in rows:
        assert len(row) <= width
        m = re.match(r"\s*(\d+\.\d)%\s+(\d+\.\d)%\s+(\S+:\d+)\s", row + " ")
        assert m, row
        places.append(m.group(3))
    lines = {(ln.file, ln.line) for ln in sampled.time.lines}
    assert len(places) == len(set(places)) == min(len(lines), 12), places
    # The comprehension's line is hot under two functions and listed once, with its own share
    # the sum of both (each sample is innermost in one of them). Python 3.12 inlines
    # comprehensions (PEP 709): there the line has one function and one entry.
    comp = [ln for ln in sampled.time.lines if ln.line == 5]
    assert len(comp) == (2 if sys.version_info < (3, 12) else 1)
    row = next(r for r in rows if re.search(r":5\s", r))
    own = sum(ln.own_of(sampled.time.samples) for ln in comp)
    assert row.split()[0] == f"{own:.1%}"


@pytest.mark.slow
def test_allocations_keep_bytes_and_blocks_at_every_width(tmp_path):
    report = _profile(tmp_path, "--deep")
    assert report.deep is not None and report.deep.allocations is not None
    sites = report.deep.allocations.sites[:8]
    for width in WIDTHS:
        lines = _rendered(report, width)
        rows = _section(lines, "Allocations")
        assert len(rows) == len(sites), (width, rows)
        for row, site in zip(rows, sites, strict=True):
            assert len(row) <= width
            assert row.split()[:3] == [*fmt_bytes(site.bytes).split(), f"{site.count:,}"], row
        # The deep line tables keep hits, time and share whole too.
        loop = [ln for ln in lines if re.match(r"\s+11\s", ln)]
        assert loop and re.match(r"\s+11\s+1,500,000\s+\d+\.\d (ms|s)\s+\d+\.\d%", loop[-1]), loop


def test_a_module_run_is_titled_as_typed_and_help_keeps_whole_descriptions(tmp_path):
    (tmp_path / "pkgm").mkdir()
    (tmp_path / "pkgm" / "__init__.py").write_text("")
    (tmp_path / "pkgm" / "run.py").write_text("sum(range(10))\n")
    r = run_diag(["profile", "-m", "pkgm.run", "7"], cwd=tmp_path, env={"COLUMNS": "100"})
    assert r.returncode == 0, r.stderr
    assert " diag profile -m pkgm.run 7 " in r.stderr.splitlines()[0]
    again = run_diag(["report", str(r.out_dir)], cwd=tmp_path, env={"COLUMNS": "100"})
    assert " diag profile -m pkgm.run 7 " in again.stdout.splitlines()[0] + again.stderr
    helped = run_diag(["--help"], cwd=tmp_path, env={"COLUMNS": "80"})
    commands = helped.stdout.split("Commands:")[1]
    assert helped.returncode == 0 and "..." not in commands
    assert "BASE, then\n" in helped.stdout and "NEW." in helped.stdout


def test_a_tiny_run_never_shows_more_cpu_than_wall(tmp_path, script):
    # One thread cannot use more CPU than wall time; the interpreter's start-up, before the
    # program's first line, is outside both.
    script("tiny.py", "print(sum(range(10)))\n")
    for _ in range(3):
        run = run_diag(["profile", "-q", "tiny.py"], cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        out = run.report.outcome
        assert 0 < out.cpu_user_s + out.cpu_system_s <= out.wall_s * 1.2 + 0.002, out
