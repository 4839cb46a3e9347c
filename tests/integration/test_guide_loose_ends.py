"""What a newcomer meets at the edges of the guide: the titles of GPU summaries, saved reports
damaged in every way a hand edit can, and the ``--no-jit`` recipe run as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_diag

NSYS_TRACE = ROOT / "tests" / "data" / "nsys" / "synthetic_kernels_memcpy_nvtx.sqlite"
EXCEPTION_NAMES = re.compile(r"\b\w*(Error|Exception)\b|Traceback")


def _title(text: str) -> str:
    """The summary's first rule, its padding folded."""
    first = next(ln for ln in text.splitlines() if ln.strip())
    return " ".join(first.strip("─ ").split())


def test_gpu_trace_summaries_are_titled_with_gpu_trace(tmp_path, script):
    target = script("kernels.py", "import diagkit\nwith diagkit.range('step'):\n    pass\n")
    ran = run_diag(["gpu-trace", "--no-nsys", "--out", "run", str(target)], cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert _title(ran.stderr) == f"diag gpu-trace {target}"
    imported = run_diag(["gpu-trace", "--import", str(NSYS_TRACE), "--out", "imp"], cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert _title(imported.stderr) == f"diag gpu-trace --import {NSYS_TRACE}"
    # A saved report is shown under the command that made it, not as a profile.
    for folder, title in (
        ("run", f"diag gpu-trace {target}"),
        ("imp", f"diag gpu-trace --import {NSYS_TRACE}"),
    ):
        shown = run_diag(["report", folder], cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert _title(shown.stdout) == title


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A real profile's report.json, with sampled functions and lines to damage."""
    folder = tmp_path_factory.mktemp("saved")
    target = folder / "busy.py"
    target.write_text(
        "def work(n):\n    t = 0\n    for i in range(n):\n        t += i * i\n    return t\n"
        "for _ in range(20):\n    work(100_000)\n"
    )
    run = run_diag(["profile", "-q", str(target)], cwd=folder, out=folder / "good")
    assert run.returncode == 0, run.stderr
    assert run.raw["time"]["functions"], "the damaged fields below need a sampled function"
    return folder / "good"


def _put(data: dict, path: str, value: object) -> None:
    *outer, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = data
    for part in outer:
        node = node[part]
    node[last] = value


DAMAGE = [
    # (field, value written there, what the error must say about it)
    ("outcome", [], "outcome: [] is not of type 'object'"),
    ("time.functions", 3, "time.functions: 3 is not of type 'array'"),
    ("time.functions.0", [1], "time.functions[0]: [1] is not of type 'object'"),
    ("time.functions.0.own_share", "0.5", "time.functions[0].own_share: '0.5' is not of type"),
    ("time.functions.0.name", None, "time.functions[0].name: None is not of type 'string'"),
    ("time.functions.0.own_samples", 1.5, "time.functions[0].own_samples: 1.5 is not of type"),
    ("memory", None, "memory: None is not of type 'object'"),
    ("target.argv", {"a": 1}, "target.argv: {'a': 1} is not of type 'array'"),
    ("target.argv.0", True, "target.argv[0]: True is not of type 'string'"),
    ("outcome.exit_code", "0", "outcome.exit_code: '0' is not of type"),
    ("outcome.wall_s", 10**400, "outcome.wall_s: 1000000000…0000000000 (401 digits) is beyond"),
    ("memory.peak_rss", 2**70, "memory.peak_rss: 1180591620717411303424 (22 digits) is beyond"),
    ("time.functions.0.own_s", -(10**30), "own_s: -1000000000…0000000000 (31 digits)"),
]


@pytest.mark.parametrize(("field", "value", "says"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_a_damaged_report_names_its_field_and_no_exception(saved, tmp_path, field, value, says):
    data = json.loads((saved / "report.json").read_text())
    _put(data, field, value)
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps(data))
    for args in (
        ["report", str(bad)],
        ["diff", str(bad), str(saved)],
        ["diff", str(saved), str(bad)],
    ):
        run = run_diag(args, cwd=tmp_path)
        assert run.returncode != 0, (args, run.stdout)
        (line,) = run.stderr.splitlines()
        assert line.startswith(f"diag: error: {bad}: ") and says in line, (args, line)
        assert not EXCEPTION_NAMES.search(line), line


def test_unknown_keys_and_null_times_still_read(saved, tmp_path):
    data = json.loads((saved / "report.json").read_text())
    data["from_a_later_tool"] = {"x": [1, 2]}
    data["time"]["functions"][0]["annotated_by"] = "someone"
    data["outcome"]["cpu_user_s"] = None  # a time not measured
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps(data))
    for args in (["report", str(bad)], ["diff", str(bad), str(saved)]):
        run = run_diag(args, cwd=tmp_path)
        assert run.returncode == 0, (args, run.stderr)
        assert not EXCEPTION_NAMES.search(run.stderr + run.stdout)
    assert "work" in run_diag(["report", str(bad)], cwd=tmp_path).stdout


def test_a_negative_sample_count_is_compared_without_a_traceback(saved, tmp_path):
    data = json.loads((saved / "report.json").read_text())
    data["time"]["functions"][0]["own_samples"] = -5  # its noise would be sqrt of a negative
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps(data))
    for args in (["diff", str(bad), str(saved)], ["diff", str(saved), str(bad)]):
        run = run_diag(args, cwd=tmp_path)
        assert run.returncode == 0, (args, run.stderr)
        assert not EXCEPTION_NAMES.search(run.stderr + run.stdout)


def _no_jit_recipe() -> list[str]:
    guide = (ROOT / "docs" / "guide.md").read_text()
    recipe = guide.split("### A Numba hot spot: --no-jit", 1)[1]
    block = recipe.split("```bash\n", 1)[1].split("```", 1)[0]
    command = block.replace("\\\n", " ").split()
    assert command[:2] == ["diag", "profile"], command
    return command[1:]


@pytest.mark.slow
def test_the_no_jit_recipe_as_written_traces_one_cell_line_by_line(tmp_path):
    # The demo's full size took over 6 minutes here; the recipe must be one a reader waits for.
    run = run_diag(_no_jit_recipe(), cwd=ROOT, out=tmp_path / "rep", timeout=120)
    assert run.returncode == 0, run.stderr
    report = run.report
    deep = report.deep
    assert deep is not None and deep.jit_disabled
    assert [p.name for p in deep.passes] == ["tracers", "memory"]
    assert all(p.exit_code == 0 for p in deep.passes)
    (cell,) = [p for p in deep.lines if p.function == "one_cell"]
    assert cell.reason == "--lines" and cell.total_s > 0
    # Run as Python in the worker threads, every line of the loop over units is hit.
    assert max(h.hits for h in cell.lines) >= 5000
    # The sampled pass, compiled, still says how much of the run the call into it takes.
    calls = [ln for ln in report.time.lines if "numba_cells.one_cell(" in ln.source]
    assert calls and calls[0].share > 0
