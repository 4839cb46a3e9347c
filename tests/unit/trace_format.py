"""What every profile.trace.json must be: Trace Event Format that Perfetto and chrome://tracing load."""

from __future__ import annotations


def check_format(trace: dict) -> None:
    """Every event well-formed, every slice on a named track."""
    assert isinstance(trace["traceEvents"], list) and trace["displayTimeUnit"] == "ms"
    for ev in trace["traceEvents"]:
        assert ev["ph"] in {"X", "C", "M", "i"}, ev
        assert isinstance(ev["pid"], int) and isinstance(ev["tid"], int), ev
        assert isinstance(ev["name"], str)
        if ev["ph"] != "M":
            assert isinstance(ev["ts"], int | float) and ev["ts"] >= 0, ev
        if ev["ph"] == "X":
            assert isinstance(ev["dur"], int | float) and ev["dur"] >= 0, ev
    named = {(e["pid"], e["tid"]) for e in trace["traceEvents"] if e["name"] == "thread_name"}
    for ev in trace["traceEvents"]:
        if ev["ph"] == "X":
            assert (ev["pid"], ev["tid"]) in named, f"slice on an unnamed track: {ev}"
