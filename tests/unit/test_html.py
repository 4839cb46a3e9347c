"""The report page without a browser: escaping, the merged flame tree, thinned series, size."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time

import pytest

from diagkit._paths import TARGET_DIR
from diagkit.collectors.flame_tree import flame_tree
from diagkit.collectors.hot_source import source_listings
from diagkit.model.flame import FlameFunction, FlameTree
from diagkit.model.report import (
    ExceptionInfo,
    FunctionTime,
    LineTime,
    Outcome,
    RangeEvent,
    Report,
    RssPoint,
    Target,
    WarningRecord,
)
from diagkit.render.html.data import PLOT_COLUMNS, hot_sources, page_data, range_lanes, thin_rss
from diagkit.render.html.page import embed_json, render_html, write_html
from tests.unit.html_synthetic import synthetic_report

BOOT = os.path.join(TARGET_DIR, "bootstrap.py")
SCRIPT_CLOSE = "</script><script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def _report(**kw: object) -> Report:
    return Report(
        "1.0",
        "0.1.0",
        "now",
        ["diag"],
        Target(["x.py"], "script", "/", "py"),
        Outcome("exit", 0, wall_s=1.0),
        **kw,
    )  # type: ignore[arg-type]


def test_embedded_json_cannot_close_its_element_and_parses_back():
    data = {"s": SCRIPT_CLOSE + IMG + "<!-- \u2028\u2029 & >", "n": [1, 2.5]}
    text = embed_json(data)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == data


def test_program_strings_never_reach_the_markup_raw():
    rep = _report()
    rep.outcome.exception = ExceptionInfo("ValueError", SCRIPT_CLOSE, IMG, "x.py", 3, IMG)
    rep.numerics.warnings = [WarningRecord("UserWarning", IMG, SCRIPT_CLOSE, 1, 1, 0.1)]
    rep.time.functions = [FunctionTime(SCRIPT_CLOSE, IMG, 1, 1, 1, 0.1, 0.1, 1.0, 1.0)]
    rep.target.argv = [SCRIPT_CLOSE, IMG]  # the page title
    page = render_html(rep)
    assert "alert(1)" in page  # the strings are there, in escaped form
    assert "<img" not in page and "<script>alert" not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2
    data = re.search(r'<script type="application/json" id="diag-data">(.*?)</script>', page, re.S)
    assert data is not None
    assert json.loads(data.group(1))["outcome"]["exception"]["message"] == SCRIPT_CLOSE
    assert "&lt;/script&gt;" in page.split("<title>")[1].split("</title>")[0]


def test_content_security_policy_allows_exactly_the_page_script():
    page = render_html(_report())
    csp = re.search(r"script-src '(sha256-[^']+)'", page)
    code = re.search(r"<script>(.*)</script>", page, re.S)
    assert csp is not None and code is not None
    digest = base64.b64encode(hashlib.sha256(code.group(1).encode()).digest()).decode()
    assert csp.group(1) == f"sha256-{digest}"
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


def _frame(name: str, file: str, line: int) -> dict:
    return {"name": name, "file": file, "line": line}


def test_flame_tree_merges_lines_strips_the_bootstrap_and_counts_exactly():
    frames = [
        _frame("run_program", BOOT, 10),
        _frame("main", "/w/app.py", 5),
        _frame("fit", "/w/app.py", 20),
        _frame("fit", "/w/app.py", 24),  # same function, another line: one node
        _frame("solve", "/w/app.py", 40),
        _frame("flush", BOOT, 99),
    ]
    samples = [[0, 1, 2, 4]] * 3 + [[0, 1, 3]] * 2 + [[0, 1]] + [[5]] * 4  # [5]: exit work
    tree = flame_tree({"shared": {"frames": frames}, "profiles": [{"samples": samples}]})
    names = [tree.functions[f].name for f in tree.func]
    assert names == ["all samples", "main", "fit", "solve"]
    assert tree.value == [6, 6, 5, 3]
    assert tree.depth == [0, 1, 2, 3]
    assert tree.functions[tree.func[2]] == FlameFunction("fit", "/w/app.py", 20, "own")


def test_flame_tree_prunes_to_the_node_budget_keeping_totals():
    frames = [_frame(f"f{i}", "/w/a.py", i) for i in range(200)]
    samples = [[0, 1 + i % 199] for i in range(1000)] + [[0, 1]] * 9000
    tree = flame_tree({"shared": {"frames": frames}, "profiles": [{"samples": samples}]}, 20)
    assert len(tree.func) <= 21
    assert tree.value[0] == 10_000 and tree.value[1] == 10_000
    assert tree.value[2] == 9006  # f1: 9000 plus its share of the round robin
    assert tree.pruned_below > 0


def test_rss_thinning_keeps_the_peak_and_the_order():
    pts = [RssPoint(i * 0.1, 1000 + (i % 97)) for i in range(20_000)]
    pts[12_345] = RssPoint(1234.5, 10**9)
    rows = thin_rss(pts, 2000.0)
    assert len(rows) <= 2 * PLOT_COLUMNS
    assert [1234.5, 10**9, 0] in rows
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_range_lanes_merge_short_ranges_of_alternating_names_and_keep_counts():
    evs = [RangeEvent(f"cell {i % 2}", i * 0.01, i * 0.01 + 0.005, 1, 0) for i in range(30_000)]
    evs.append(RangeEvent("long", 0.0, 300.0, 1, 1))
    lanes = range_lanes(evs, 300.0)
    top = next(ln for ln in lanes["lanes"] if ln["depth"] == 0)
    assert 1 <= len(top["blocks"]) <= 3000
    assert sum(b[3] for b in top["blocks"]) == 30_000
    assert top["blocks"][0][0] == -1  # several names in one block
    deep = next(ln for ln in lanes["lanes"] if ln["depth"] == 1)
    assert deep["blocks"] == [[lanes["names"].index("long"), 0.0, 300.0, 1]]


def test_hot_source_is_read_when_collected_and_shown_without_the_file(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("".join(f"line_{i} = {i}\n" for i in range(1, 201)))
    rep = _report()
    rep.time.samples = 100
    rep.time.lines = [
        LineTime("f", str(src), 50, 30, 0.15, 0.3, source="line_50 = 50", own_samples=20),
        LineTime("f", str(src), 150, 10, 0.05, 0.1, source="line_150 = 150"),
    ]
    rep.time.sources = source_listings(rep.time)
    src.unlink()  # a saved report is shown again after its program changed or went
    (block,) = hot_sources(rep)
    rows = [r for r in block["lines"] if r is not None]
    assert [r[0] for r in rows] == [*range(47, 54), *range(147, 154)]
    assert rows[0][1] == "line_47 = 47"  # context lines come from the report, not the file
    assert block["lines"].count(None) == 1  # the gap between the two hot spots
    hot = {r[0]: (r[1], r[2]) for r in rows if r[2]}
    assert hot == {50: ("line_50 = 50", 30), 150: ("line_150 = 150", 10)}
    assert [r[4] for r in rows if r[2]] == [0.2, 0.0]  # own: innermost line of the program's code


def test_a_report_saved_before_the_page_parts_were_kept_shows_what_it_has():
    rep = _report()
    rep.schema_version = "1.1"
    rep.time.samples = 100
    rep.time.lines = [LineTime("f", "/gone/m.py", 50, 30, 0.15, 0.3, source="x = f(x)")]
    saved = json.loads(rep.to_json())
    del saved["time"]["flame"], saved["time"]["sources"]  # as a 1.1 report.json has it
    data = page_data(Report.from_json(json.dumps(saved)))
    assert data["page"]["flame"] is None
    (block,) = data["page"]["sources"]
    assert block["lines"] == [[50, "x = f(x)", 30, 0.3, 0.0]]  # the sampled line alone
    assert "kept no flame graph" in data["page"]["flame_note"]
    assert data["page"]["sources_note"] == data["page"]["flame_note"]
    assert "flame" not in data["time"] and "sources" not in data["time"]


def test_a_damaged_flame_tree_is_left_out_and_said_so():
    rep = _report()
    rep.time.flame = FlameTree(
        total=3,
        functions=[FlameFunction("all samples", "", 0, "root")],
        func=[0, 5],  # a node pointing past the functions
        value=[3, 3],
        depth=[0, 1],
    )
    data = page_data(rep)
    assert data["page"]["flame"] is None and "damaged" in data["page"]["flame_note"]
    assert "sources_note" not in data["page"]
    rep.time.flame.func = [0, 0]
    assert page_data(rep)["page"]["flame"]["funcs"] == [["all samples", "", 0, "root"]]
    rep.time.flame.depth = [0, 2]  # a node two levels below its parent
    assert page_data(rep)["page"]["flame"] is None


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    rep = synthetic_report(folder)
    start = time.perf_counter()
    path = write_html(rep, folder)
    return path, time.perf_counter() - start


def test_a_ten_minute_run_makes_a_small_page(big):
    path, seconds = big
    size = path.stat().st_size
    assert size < 1_000_000, f"{size} bytes"
    page = path.read_text()
    data = json.loads(page.split('id="diag-data">')[1].split("</script>")[0])
    assert data["page"]["rss_points"] == 6000 and len(data["page"]["rss"]) <= 2 * PLOT_COLUMNS
    assert data["page"]["range_events"] == 20_000 and data["ranges"]["events"] == []
    assert data["page"]["flame"]["total"] == 120_000
    assert len(data["page"]["flame"]["func"]) <= 15_001
    assert seconds < 30
