"""The speedscope -> function/line tables transform, on stacks whose right answer is known."""

from __future__ import annotations

import json
import os

import pytest

from diagkit._paths import TARGET_DIR
from diagkit.collectors.sampled_time import program_frames, section_from_sampler, time_section
from diagkit.collectors.sampler import SamplerResult
from diagkit.collectors.speedscope_merge import merge

BOOT = os.path.join(TARGET_DIR, "bootstrap.py")
BOOT = os.path.normpath(BOOT)


def _frames():
    return [
        {"name": "_run_module_as_main", "file": "<frozen runpy>", "line": 198},  # 0
        {"name": "main", "file": BOOT, "line": 200},  # 1
        {"name": "run_program", "file": BOOT, "line": 150},  # 2
        {"name": "<module>", "file": "/u/est.py", "line": 30},  # 3
        {"name": "fit", "file": "/u/est.py", "line": 12},  # 4
        {"name": "fit", "file": "/u/est.py", "line": 14},  # 5
        {"name": "dot", "file": "/usr/lib/python3.11/site-packages/numpy/x.py", "line": 5},  # 6
        {"name": "finish", "file": BOOT, "line": 90},  # 7
    ]


def _doc(samples):
    return {
        "shared": {"frames": _frames()},
        "profiles": [{"name": "MainThread", "samples": samples}],
    }


def test_shares_own_total_and_lines_are_exact():
    base = [0, 1, 2, 3]
    samples = [[*base, 4]] * 6 + [[*base, 5, 6]] * 3 + [base] * 1 + [[7]] * 5  # 5 exit samples
    sec = time_section(_doc(samples), rate=100, sampled_s=0.2, source="t")
    assert sec.samples == 10  # diag's own exit work is not the program's
    f = {x.name: x for x in sec.functions}
    assert f["fit"].own_samples == 6 and f["fit"].total_samples == 9
    assert f["fit"].own_share == pytest.approx(0.6) and f["fit"].total_share == pytest.approx(0.9)
    assert f["fit"].line == 12 and f["fit"].own_s == pytest.approx(0.06)
    assert f["dot"].own_share == pytest.approx(0.3) and f["dot"].kind == "python"
    assert "run_program" not in f and "main" not in f
    lines = {(ln.function, ln.line): ln.samples for ln in sec.lines}
    assert lines[("fit", 12)] == 6 and lines[("fit", 14)] == 3
    assert not any(ln.function == "dot" for ln in sec.lines)  # library code gets no line table
    own = {(ln.function, ln.line): ln.own_samples for ln in sec.lines}
    # numpy's dot below fit:14 is fit:14's own time; <module> only calls fit, except once.
    assert own[("fit", 12)] == 6 and own[("fit", 14)] == 3 and own[("<module>", 30)] == 1


def test_recursion_counts_once_per_sample_in_total():
    fr = _frames()[:4] + [{"name": "rec", "file": "/u/r.py", "line": 1}] * 3
    doc = {
        "shared": {"frames": fr},
        "profiles": [{"name": "M", "samples": [[0, 1, 2, 3, 4, 5, 6]] * 4}],
    }
    sec = time_section(doc, rate=100, sampled_s=0.04, source="t")
    rec = next(x for x in sec.functions if x.name == "rec")
    assert rec.total_samples == 4 and rec.total_share == pytest.approx(1.0)


def test_other_threads_keep_their_whole_stack():
    fr = [{"name": "Thread.run", "file": "/usr/lib/python3.11/threading.py", "line": 9}]
    assert program_frames(fr) == fr
    assert program_frames([_frames()[7]]) == []


def test_no_samples_says_why():
    sec = time_section(_doc([]), rate=100, sampled_s=0.01, source="t")
    assert not sec.available and "before the first sample" in sec.unavailable_reason


def test_a_slowed_down_run_weighs_each_sample_by_its_interval():
    """2 s at 200 Hz in fit:12, then 2 s at 50 Hz in fit:14: 50/50 in time, 80/20 in counts."""
    base = [0, 1, 2, 3]
    fast = {
        "shared": {"frames": _frames()},
        "profiles": [{"name": "Main", "samples": [[*base, 4]] * 400, "weights": [0.005] * 400}],
    }
    slow_frames = list(reversed(_frames()))  # another file's frame table: indices must be remapped
    at = {(f["name"], f["line"]): i for i, f in enumerate(slow_frames)}
    stack = [at[(f["name"], f["line"])] for f in (_frames()[i] for i in [*base, 5])]
    slow = {
        "shared": {"frames": slow_frames},
        "profiles": [{"name": "Main", "samples": [stack] * 100, "weights": [0.02] * 100}],
    }
    doc = merge([(200, fast), (50, slow)])
    assert len(doc["profiles"]) == 1 and doc["profiles"][0]["endValue"] == pytest.approx(4.0)
    sec = time_section(doc, rate=200, sampled_s=4.0, source="t")
    assert sec.samples == 500
    lines = {ln.line: ln for ln in sec.lines if ln.function == "fit"}
    assert lines[12].share == pytest.approx(0.5) and lines[14].share == pytest.approx(0.5)
    assert lines[12].samples == 400 and lines[14].seconds == pytest.approx(2.0)
    assert lines[14].own_share == pytest.approx(0.5)
    assert sec.active_s == pytest.approx(4.0)


def test_a_file_without_weights_counts_each_sample_at_its_rate():
    doc = merge([(100, _doc([[0, 1, 2, 3, 4]] * 3))])
    assert doc["profiles"][0]["weights"] == [0.01] * 3


def test_a_second_py_spy_that_failed_is_said_unless_the_run_ended_there(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({**_doc([[0, 1, 2, 3, 4]] * 400), "exporter": "py-spy@9.9"}))
    failed = SamplerResult(
        True, "", path, 400, slow_after_s=2, slow_failed="Error: Operation not permitted"
    )
    sec = section_from_sampler(failed, rate=200, native=False, idle=False, wall=10.0)
    assert sec.source.startswith("py-spy 9.9 record, 200 Hz,")
    assert "only the first 2 s were sampled" in sec.source and "not permitted" in sec.source
    assert sec.slow_rate_hz == 0
    ended = section_from_sampler(failed, rate=200, native=False, idle=False, wall=2.2)
    assert "only the first" not in ended.source  # the target ended as the second one attached
    ok = SamplerResult(True, "", path, 400, slow_rate=100, slow_after_s=2)
    sec = section_from_sampler(ok, rate=200, native=False, idle=False, wall=10.0)
    assert sec.slow_rate_hz == 100 and "200 Hz for the first 2 s, then 100 Hz" in sec.source
