"""The Report model: JSON round trip, NaN handling, and the committed schema being current."""

from __future__ import annotations

import json
import math
import runpy

from diagkit.model.report import (
    FunctionTime,
    Outcome,
    Report,
    Target,
    TimeSection,
)
from tests.conftest import ROOT


def _report() -> Report:
    rep = Report(
        "1.0", "0.1.0", "now", ["diag"], Target(["x.py"], "script", "/", "py"), Outcome("exit", 0)
    )
    rep.time = TimeSection(
        functions=[FunctionTime("f", "x.py", 3, 5, 9, 0.05, 0.09, 0.5, 0.9, calls=12)]
    )
    return rep


def test_round_trip_is_lossless():
    rep = _report()
    assert Report.from_json(rep.to_json()) == rep


def test_nan_becomes_null_and_back():
    rep = _report()
    rep.time.sampled_s = float("nan")
    data = json.loads(rep.to_json())
    assert data["time"]["sampled_s"] is None
    assert math.isnan(Report.from_json(rep.to_json()).time.sampled_s)


def test_unknown_keys_are_ignored_for_forward_compatibility():
    data = json.loads(_report().to_json())
    data["time"]["added_later"] = 1
    assert Report.from_json(json.dumps(data)).time.functions[0].calls == 12


def test_committed_schema_is_generated_from_the_model():
    gen = runpy.run_path(str(ROOT / "scripts" / "gen_schema.py"))  # not as __main__: writes nothing
    stale = "docs/report.schema.json is stale: run scripts/gen_schema.py"
    assert gen["OUT"].read_text() == gen["render"](), stale
