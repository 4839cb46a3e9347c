"""profile.trace.json from a report made here: a Numba compile."""

from __future__ import annotations

from diagkit.model.report import JitCompile, Outcome, Report, Target
from diagkit.render.perfetto import NUMBA_TID, trace_events
from tests.unit.trace_format import check_format


def test_numba_compiles_are_slices_on_their_own_track():
    rep = Report(
        "1.0",
        "0.1.0",
        "now",
        ["diag"],
        Target(["x.py"], "script", "/", "py", pid=7),
        Outcome("exit", 0, wall_s=3.0),
    )
    rep.jit.compiles = [
        JitCompile("m:outer", "(float64,)", 1.0, 0.2, 0.5),
        JitCompile("m:inner", "(int64,)", 1.1, 0.3, 0.3),
    ]
    trace = trace_events(rep)
    check_format(trace)
    comp = [e for e in trace["traceEvents"] if e.get("cat") == "numba"]
    assert [(e["name"], e["ts"], e["dur"], e["tid"]) for e in comp] == [
        ("m:outer", 1_000_000, 500_000, NUMBA_TID),
        ("m:inner", 1_100_000, 300_000, NUMBA_TID),
    ]
    assert comp[0]["args"] == {"signature": "(float64,)", "own_s": 0.2, "ok": True}
