"""One self-contained HTML page for a Report: data, script and style inline, nothing fetched.

The report's strings come from the profiled program, so the page treats them as
hostile: the data travels as JSON inside a non-executing script element, with
every character that could end that element or start markup escaped, and the
page's script only ever puts them into text nodes. A Content-Security-Policy that
allows only this page's own script and style (by hash) backs that up: even
markup that slipped through could not run or load anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from pathlib import Path
from string import Template
from typing import Any

from diagkit._paths import HTML_ASSETS
from diagkit.model.report import Report
from diagkit.model.store import HTML, write_atomic
from diagkit.render.html.data import page_data
from diagkit.render.text import json_printable, printable

_ASSETS = Path(HTML_ASSETS)
_SCRIPTS = ("core.js", "flame.js", "plot.js", "sections.js", "deep_gpu_sections.js", "main.js")
_JSON_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def embed_json(data: Any) -> str:
    """JSON that is safe as the text of a <script> element and parses to ``data``, with
    undecodable bytes in its strings written out (``\\xff``) so the page encodes as UTF-8."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return json_printable(text.translate(_JSON_ESCAPES))


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def render_html(report: Report) -> str:
    """The page for ``report``, from the report alone."""
    js = "\n".join((_ASSETS / name).read_text(encoding="utf-8") for name in _SCRIPTS)
    css = (_ASSETS / "page.css").read_text(encoding="utf-8")
    template = Template((_ASSETS / "page.html").read_text(encoding="utf-8"))
    argv = " ".join(report.target.argv) or "report"
    return template.substitute(
        title=html.escape(printable(f"diag: {argv}"), quote=True),
        version=html.escape(printable(report.diagkit_version), quote=True),
        script_hash=_csp_hash(js),
        style_hash=_csp_hash(css),
        css=css,
        js=js,
        data=embed_json(page_data(report)),
    )


def write_html(report: Report, out_dir: Path, name: str = HTML) -> Path:
    path = out_dir / name
    write_atomic(path, render_html(report))
    return path


def write_page(report: Report, folder: Path) -> Path:
    """``diag report --html``: the page for a saved report, with a one-line error if it cannot be written."""
    from diagkit.errors import DiagError

    report.files.setdefault("html", HTML)
    try:
        return write_html(report, folder)
    except OSError as exc:
        raise DiagError(f"{folder / HTML}: cannot write it ({exc.strerror or exc})") from None
