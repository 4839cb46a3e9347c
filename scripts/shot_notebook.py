"""The guide's picture of a cell's report inline: a real Jupyter kernel runs ``%%diag`` on the
estimator, and its output (the iframe it displays) is shown by headless Chromium as a notebook
would show it, under the cell's code.

    python scripts/shot_notebook.py docs/img/notebook-inline.png
"""

from __future__ import annotations

import html
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.browser import Browser, find_chromium  # noqa: E402

CELL = """%%diag --out diag-reports/cell
import estimator_core as ec
sim = ec.simulate_panel(n_units=20_000, n_periods=6, seed=1)
fit = ec.att_gt(sim.data, "y", "period", "id", "first_treat", biters=999, random_state=1)"""

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ font-family: sans-serif; margin: 16px; background: #fff; }}
.prompt {{ color: #303f9f; font-family: monospace; }}
pre {{ background: #f5f5f5; border: 1px solid #e0e0e0; padding: 8px; margin: 4px 0 12px; }}
</style></head><body>
<div class="prompt">In [2]:</div><pre>{code}</pre>
<div class="prompt">Out:</div>{output}
</body></html>"""


def kernel_output(code: str, folder: Path) -> str:
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec = folder / "kernels" / "shot"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "shot", "language": "python"})
    )
    km = KernelManager(kernel_name="shot")
    km.kernel_spec_manager = KernelSpecManager(kernel_dirs=[str(spec.parent)])
    km.start_kernel(cwd=str(folder))  # the report lands in its diag-reports/
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        shown = ""
        for cell in ("%load_ext diagkit", code):
            msg_id = kc.execute(cell)
            while True:
                msg = kc.get_iopub_msg(timeout=300)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "display_data":
                    shown = msg["content"]["data"]["text/html"]
                if msg["msg_type"] == "error":
                    raise SystemExit("\n".join(msg["content"]["traceback"]))
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
        return shown
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main(out_png: str) -> None:
    exe = find_chromium()
    if exe is None:
        raise SystemExit("no Chromium found")
    folder = Path(tempfile.mkdtemp(prefix="diag-shot-"))
    code = CELL
    output = kernel_output(code, folder)
    if not output.startswith("<iframe"):
        raise SystemExit(f"the cell showed no report: {output[:200]!r}")
    page = folder / "notebook.html"
    page.write_text(PAGE.format(code=html.escape(code), output=output))
    browser = Browser(exe, width=1200, height=900)
    try:
        browser.open(page, ready="document.readyState === 'complete' && 1")
        import time

        time.sleep(1.5)  # the iframe's page draws its flame graph and timeline after load
        Path(out_png).write_bytes(
            browser.screenshot(clip={"x": 0, "y": 0, "width": 1200, "height": 900})
        )
    finally:
        browser.close()
    print(f"wrote {out_png}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "docs" / "img" / "notebook-inline.png"))
