"""Write docs/report.schema.json from the Report dataclasses (run after changing the model)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from diagkit.model.report import SCHEMA_VERSION, Report
from diagkit.model.serde import json_schema

OUT = Path(__file__).resolve().parents[1] / "docs" / "report.schema.json"


def render() -> str:
    schema = json_schema(Report)
    schema["$id"] = f"https://diagkit.invalid/report-{SCHEMA_VERSION}.schema.json"
    return json.dumps(schema, indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text() == render() else 1)
    OUT.write_text(render())
    print(f"wrote {OUT}")
