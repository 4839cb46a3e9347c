"""``%load_ext diagkit``, ``%diag`` and ``%%diag`` in a real IPython in a subprocess and in a
real Jupyter kernel (ipykernel, driven by jupyter_client) whose output holds the report."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest

from diagkit.model.report import Report

pytest.importorskip("IPython")

SESSION = """\
%load_ext diagkit
import gc
callbacks = len(gc.callbacks)
def hot(n):
    return sum(i * i for i in range(n))

%diag --out {out}/line hot(3_000_000)
%%diag --rate 100 --out {out}/cell
total = 0
for k in range(3):
    total += hot(1_000_000)


print("total", total, "callbacks back", len(gc.callbacks) == callbacks)
%diag --bogus hot(1)
%diag --out {out}/line/report.json hot(1)
"""


def test_diag_and_diag_cell_in_a_terminal_ipython(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--simple-prompt", "--no-banner", "--colors=NoColor"],
        input=SESSION.format(out=tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    out = done.stdout + done.stderr  # IPython writes a UsageError to stderr
    assert done.returncode == 0, out
    # The statement's value is the magic's: IPython shows it as the cell's result.
    assert re.search(rf"Out\[\d+\]: {sum(i * i for i in range(3_000_000))}", out), out
    line = Report.from_json((tmp_path / "line" / "report.json").read_text())
    assert (tmp_path / "line" / "cell.py").read_text() == "hot(3_000_000)"
    names = [f.name for f in line.time.functions[:3]]
    assert "hot.<locals>.<genexpr>" in names or "<genexpr>" in names, names
    assert "from inside" in line.time.source
    cell = Report.from_json((tmp_path / "cell" / "report.json").read_text())
    assert cell.time.rate_hz == 100
    assert any(ln.file.endswith("cell/cell.py") for ln in cell.time.lines)
    # The text summary is printed in a terminal, and the process is left as it was.
    assert "Hot lines" in out and "total 999998500000500000 callbacks back True" in out
    assert "UsageError: %diag: unknown option --bogus" in out
    assert "report.json: exists and is not a directory" in out


def _kernel_outputs(code_cells: list[str], tmp_path) -> list[list[tuple[str, dict]]]:
    jupyter_client = pytest.importorskip("jupyter_client")
    pytest.importorskip("ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager

    spec = tmp_path / "kernels" / "diagtest"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "t", "language": "python"})
    )
    km = jupyter_client.KernelManager(kernel_name="diagtest")
    km.kernel_spec_manager = KernelSpecManager(kernel_dirs=[str(spec.parent)])
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        results = []
        for code in code_cells:
            msg_id = kc.execute(code)
            outs: list[tuple[str, dict]] = []
            while True:
                msg = kc.get_iopub_msg(timeout=120)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind in ("display_data", "execute_result", "stream", "error"):
                    outs.append((kind, msg["content"]))
                if kind == "status" and msg["content"]["execution_state"] == "idle":
                    break
            results.append(outs)
        return results
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_a_notebook_cell_shows_the_report_inline_with_a_text_fallback(tmp_path):
    out = tmp_path / "nb"
    cell = f"%%diag --out {out}\ndef hot(n):\n    return sum(i * i for i in range(n))\nx = hot(3_000_000)"
    _, shown = _kernel_outputs(["%load_ext diagkit", cell], tmp_path)
    (display,) = [c for kind, c in shown if kind == "display_data"]
    page = display["data"]["text/html"]
    m = re.fullmatch(
        r'<iframe srcdoc="([^"]*)" style="[^"]*" sandbox="allow-scripts"></iframe>', page
    )
    assert m, page[:200]
    # The whole page, escaped for the attribute: unescaped it is report.html exactly.
    assert html.unescape(m.group(1)) == (out / "report.html").read_text(encoding="utf-8")
    text = display["data"]["text/plain"]
    assert "Hot lines" in text and "hot" in text
    report = Report.from_json((out / "report.json").read_text())
    top = report.time.functions[0]
    # The kernel's own threads wait in C calls the whole time: only the cell's work is counted.
    assert top.file.endswith("nb/cell.py") and top.own_share > 0.5, report.time.functions[:4]
