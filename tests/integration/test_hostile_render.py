"""Real runs whose program hands diag text it cannot print as is: every file still written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_diag

# Strict UTF-8 on diag's own stdout, as under a UTF-8 locale: an unencodable character fails
# the write instead of slipping through as a raw byte.
STRICT = {"PYTHONIOENCODING": "utf-8:strict"}


def _diag_bytes(args: list[bytes], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    cmd = [os.fsencode(sys.executable), b"-m", b"diagkit.cli", *args]
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, timeout=120, env={**os.environ, **STRICT}
    )


def test_a_script_whose_name_is_not_utf8_gets_its_report_and_page(tmp_path):
    name = b"caf\xff.py"
    (tmp_path / os.fsdecode(name)).write_text(
        "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 0.3:\n    pass\n"
        "raise ValueError('stopped')\n"
    )
    run = _diag_bytes([b"profile", b"--out", b"rep", name], tmp_path)
    out = tmp_path / "rep"
    assert run.returncode == 1, run.stderr.decode(errors="backslashreplace")
    assert b"Traceback (most recent call last)" in run.stderr  # the program's own, passed on
    assert b"diagkit" not in run.stderr.split(b"ValueError: stopped", 1)[1]
    assert sorted(p.name for p in out.iterdir()) == [
        "profile.speedscope.json",
        "profile.trace.json",
        "report.html",
        "report.json",
    ]
    saved = json.loads((out / "report.json").read_text())
    assert os.fsencode(saved["target"]["argv"][0]) == name  # report.json keeps the exact bytes
    assert not any("was not written" in n for n in saved["notes"]), saved["notes"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert re.search(r"<title>diag: caf\\xff\.py</title>", page)
    assert "caf\\\\xff.py" in page  # the page's data: the JSON spelling of the text caf\xff.py
    (out / "report.html").unlink()
    again = _diag_bytes([b"report", b"--html", b"rep"], tmp_path)
    assert again.returncode == 0, again.stderr.decode(errors="backslashreplace")
    assert again.stdout.strip() == b"rep/report.html" and (out / "report.html").exists()
    shown = _diag_bytes([b"report", b"rep"], tmp_path)
    assert shown.returncode == 0, shown.stderr.decode(errors="backslashreplace")
    text = shown.stdout.decode("utf-8")  # valid UTF-8 throughout
    assert "diag profile caf\\xff.py" in text and "at caf\\xff.py:5" in text


def test_a_megabyte_exception_message_is_shown_cut_and_saved_whole(tmp_path, script):
    script("big.py", "raise RuntimeError('m' * 1_000_000)\n")
    run = run_diag(["profile", "big.py"], cwd=tmp_path)
    assert run.returncode == 1, run.stderr[-2000:]
    # The program's own traceback prints it; diag's summary adds only its start.
    assert len(run.stdout) + len(run.stderr) < 1_000_000 + 50_000
    joined = "".join((run.stdout + run.stderr).split())  # rich wraps the long word
    assert joined.count("RuntimeError:" + "m" * 2000 + "…[998,000morecharactersinthereport]") == 1
    assert run.raw["outcome"]["exception"]["message"] == "m" * 1_000_000
