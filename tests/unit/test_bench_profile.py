"""scripts/bench_profile.py's arithmetic: what it reads from each run and how it judges the rows."""

from __future__ import annotations

import importlib

import pytest

from tests.conftest import ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    modes = importlib.import_module("bench_profile_modes")
    table = importlib.import_module("bench_profile_table")
    main = importlib.import_module("bench_profile")
    return modes, table, main


def test_speedscope_share_counts_a_sample_once_by_its_weight_over_every_thread(bench):
    modes, _, _ = bench
    frames = [{"name": "<module>"}, {"name": "w4.<locals>.first_call"}, {"name": "cold"}]
    speedscope = {
        "shared": {"frames": frames},
        "profiles": [
            # the hot function twice on one stack (recursion) is still one sample
            {"samples": [[0, 1, 1], [0, 2], [0, 1]], "weights": [0.01, 0.02, 0.01]},
            {"samples": [[0, 2]], "weights": [0.04]},
        ],
    }
    assert modes.speedscope_share(speedscope, "first_call") == pytest.approx(0.02 / 0.08)
    assert modes.speedscope_share(speedscope, "absent") == 0.0


def test_report_share_matches_qualified_names_and_is_zero_when_unlisted(bench):
    modes, _, _ = bench
    sec = {
        "functions": [{"name": "main", "total_share": 1.0}, {"name": "a.b.hot", "total_share": 0.4}]
    }
    assert modes.report_share(sec, "hot") == 0.4
    assert modes.report_share(sec, "cold") == 0.0


def test_py_spy_reads_and_errors_come_from_its_closing_line(bench):
    modes, _, _ = bench
    err = (
        "py-spy> Stopped sampling because process exited\n"
        "py-spy> Wrote speedscope file to 'raw.json'. Samples: 44 Errors: 3\n"
    )
    assert modes.py_spy_counts(err) == (47, 3)
    assert modes.py_spy_counts("Error: Failed to get process executable name.") == (None, None)


def test_an_option_counts_only_where_the_help_lists_it(bench):
    modes, _, _ = bench
    today = "Options:\n  --rate INTEGER  Samples per second.\n  --nonblocking   Sample without pausing.\n"
    assert not modes.lists_option(today, "--blocking")
    assert not modes.lists_option("  --fast  Unlike --blocking, cheap.\n", "--blocking")
    assert modes.lists_option(today + "  --blocking      Pause the program.\n", "--blocking")
    assert modes.lists_option("  -q, --quiet  No summary.\n", "--quiet")
    wrapped = "  --rate N  Samples per second [default: 250;\n            --blocking: 200].\n"
    assert not modes.lists_option(wrapped, "--blocking")


def _runs(modes, walls, shares, reported=None, program=None):
    return [
        modes.Run(
            wall=w,
            share=s,
            reported=reported[i] if reported else None,
            program=(program or walls)[i],
            samples=100,
            errors=i,
            reads=200 if i < 2 else None,
            timeline_bytes=int(w * 10 * 1024),
        )
        for i, (w, s) in enumerate(zip(walls, shares, strict=True))
    ]


def _cell(modes):
    return {
        "bare": _runs(modes, [2.0, 2.2, 2.1], [0.50, 0.52, 0.51]),
        "py-spy": _runs(modes, [2.2, 2.0, 2.1], [0.5, 0.5, 0.5], [0.49, 0.5, 0.51]),
        "default": _runs(modes, [2.3, 2.4, 2.2], [0.55, 0.56, 0.54], [0.53, 0.60, 0.55]),
    }


def test_workload_rows_take_medians_and_judge_only_diag(bench):
    modes, table, _ = bench
    labels = modes.mode_labels(blocking=True)
    spy, diag = table.workload_rows("numpy", 2.0, _cell(modes), labels)
    head = table.WORKLOAD_HEAD
    row = dict(zip(head, diag, strict=True))
    assert row["mode"] == "diag profile"
    assert row["bare s"] == "2.10"
    assert row["wall × bare"] == f"{2.3 / 2.1:.3f}"
    assert row["wall × py-spy"] == f"{2.3 / 2.1:.3f}"
    assert row["true hot %"] == "55.0"
    # errors per run against that run's truth: -2, +4, +1 points
    assert row["error (pts)"] == "+1.0 (max +4.0)"
    assert row["split drift (pts)"] == "+4.0"  # 55 under diag against 51 bare
    assert row["timeline KB/s"] == "10.0"
    assert row["failed reads"] == "1 (0.2%)"  # counts 0, 1, 2; shares 0 and 0.5% (one not said)
    assert row[head[-4]] == "PASS" and row[head[-3]] == "FAIL"  # 1.095 bare, 1.095 py-spy
    assert row[head[-2]] == "PASS" and row[head[-1]] == "FAIL"
    assert spy[2] == "py-spy record -r 100" and spy[-4:] == ("—", "—", "—", "—")


def test_short_runs_are_not_judged_on_wall_time(bench):
    modes, table, _ = bench
    labels = modes.mode_labels(blocking=False)
    _, diag = table.workload_rows("numpy", 1.0, _cell(modes), labels)
    assert diag[2] == "diag profile"
    assert diag[-4:] == ("—", "—", "PASS", "FAIL")
    assert "today's default" in labels["blocking"]


def test_fixed_cost_stands_in_py_spys_from_another_script_where_it_failed_every_run(bench):
    modes, table, _ = bench
    labels = modes.mode_labels(blocking=True)
    ok = lambda *ws: [modes.Run(wall=w) for w in ws]  # noqa: E731
    failed = [modes.Run(wall=0.4, failed=True) for _ in range(3)]
    fixed = {
        "spin 0.3 s": {
            "bare": ok(0.33, 0.32, 0.34),
            "py-spy": ok(0.35, 0.36, 0.35),
            "default": ok(0.40, 0.41, 0.42),
        },
        "pass": {"bare": ok(0.03, 0.03, 0.03), "py-spy": failed, "default": ok(0.20, 0.21, 0.22)},
    }
    rows = {
        (r[0], r[1]): dict(zip(table.FIXED_HEAD, r, strict=True))
        for r in table.fixed_rows(fixed, labels)
    }
    spin = rows["spin 0.3 s", "diag profile"]
    assert spin["fixed cost s"] == "+0.080" and spin["over py-spy's s"] == "+0.060"
    assert spin[table.FIXED_HEAD[-1]] == "PASS"
    spy_pass = rows["pass", labels["py-spy"]]
    assert spy_pass["runs failed"] == "3/3" and spy_pass["fixed cost s"] == "—"
    assert spy_pass["median s"] == "0.400"  # the wait a user has for it, failed or not
    diag_pass = rows["pass", "diag profile"]
    assert diag_pass["over py-spy's s"] == "+0.160 (py-spy's on spin 0.3 s)"
    assert diag_pass[table.FIXED_HEAD[-1]] == "FAIL"


def test_long_lengths_run_on_the_long_workloads_only_and_quick_yields_to_flags(bench):
    _, _, main = bench
    args = main.parse(["--durations", "2", "10", "--workloads", "numpy", "alloc"])
    assert main.cells(args) == [("numpy", 2.0), ("alloc", 2.0), ("numpy", 10.0)]
    assert args.rounds >= 5 and args.fixed_runs >= 7
    quick = main.parse(["--quick", "--rounds", "3"])
    assert quick.rounds == 3 and quick.durations == [1.5] and quick.fixed_runs >= 7
    assert main.parse([]).durations == [2.0, 3.0, 10.0]


def test_every_round_runs_each_mode_once_starting_elsewhere(bench):
    modes, _, main = bench
    orders = [main.round_robin(r) for r in range(len(modes.MODES))]
    assert all(sorted(o) == sorted(modes.MODES) for o in orders)
    assert len({o[0] for o in orders}) == len(modes.MODES)


def test_scale_for_inverts_the_calibrated_line(bench):
    _, _, main = bench
    assert main.scale_for((0.2, 0.01), 2.0) == 180
    assert main.scale_for((3.0, 0.5), 2.0) == 1  # never below one unit of work


def test_tally_counts_passes_of_judged_rows_per_diag_mode(bench):
    modes, table, _ = bench
    labels = modes.mode_labels(blocking=True)
    rows = table.workload_rows("numpy", 2.0, _cell(modes), labels)
    rows += table.workload_rows("numpy", 1.0, _cell(modes), labels)
    default = table.tally(rows, labels)[0]
    assert default.startswith("- diag profile: ")
    assert "bare 1/1" in default and "py-spy 0/1" in default
    assert "error ≤3 2/2" in default and "drift ≤3 0/2" in default


def test_the_cpu_time_reading_is_noted_only_where_the_workload_gives_one(bench):
    modes, table, _ = bench
    labels = modes.mode_labels(blocking=True)
    cell = _cell(modes)
    assert table.cpu_basis_note("numpy", 2.0, cell, labels) is None
    for r, cpu in zip(cell["bare"] + cell["default"], [0.4, 0.4, 0.4, 0.5, 0.5, 0.52], strict=True):
        r.cpu_share = cpu
    note = table.cpu_basis_note("threads", 2.0, cell, labels)
    # diag reported 0.53, 0.60, 0.55 against CPU shares 0.50, 0.50, 0.52: +3, +10, +3
    assert note == "- threads, 2 s (true hot 40.0% bare): diag profile +3.0"
