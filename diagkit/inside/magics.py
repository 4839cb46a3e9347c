"""``%load_ext diagkit``: ``%diag STATEMENT`` and ``%%diag`` profile a statement or a cell in
the running kernel, sampled from outside (``diagkit.profile``).

The code runs in the user's namespace, compiled from a copy of its text kept in the report
folder (``cell.py``), so the samples, the hot lines and the page's source listings have a
file to point at. In a notebook the result is the report page inline (an iframe whose
``srcdoc`` holds the whole, escaped, self-contained page) with the text summary as its
plain-text form; in a terminal IPython, the text summary.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from diagkit.errors import DiagError

_VALUED = {"--rate": "rate", "--out": "out", "--log-level": "log_level"}
_FLAGS = {"--native": "native"}
IFRAME_HEIGHT = 720
SUMMARY_WIDTH = 110


def parse_options(line: str) -> tuple[dict[str, Any], str]:
    """The leading ``--option`` words of a magic's line, and the rest (the statement)."""
    words = line.split()
    opts: dict[str, Any] = {}
    i = 0
    while i < len(words) and words[i].startswith("--"):
        word, _, inline = words[i].partition("=")
        if word in _FLAGS and not inline:
            opts[_FLAGS[word]] = True
        elif word in _VALUED:
            if not inline:
                i += 1
                if i >= len(words):
                    raise UsageError(f"%diag: {word} needs a value")
                inline = words[i]
            opts[_VALUED[word]] = inline
        else:
            known = ", ".join([*_VALUED, *_FLAGS])
            raise UsageError(f"%diag: unknown option {word} (it knows {known})")
        i += 1
    if "rate" in opts:
        try:
            opts["rate"] = int(opts["rate"])
        except ValueError:
            raise UsageError(f"%diag: --rate must be a whole number: {opts['rate']!r}") from None
    rest = line.split(None, i)[i] if i < len(line.split()) else ""
    return opts, rest.strip()


@magics_class
class DiagMagics(Magics):
    @line_cell_magic
    def diag(self, line: str, cell: str | None = None) -> Any:
        """%diag [--rate N] [--out DIR] [--native] [--log-level L] STATEMENT, or %%diag
        [options] over a cell: profile it, sampled from outside."""
        opts, rest = parse_options(line)
        if cell is None:
            if not rest:
                raise UsageError("%diag needs a statement to profile (or use %%diag for a cell)")
            return self._profile(rest, opts, expression=True)
        if rest:
            raise UsageError(f"%%diag takes options only on its line, not {rest!r}")
        self._profile(cell, opts, expression=False)
        return None

    def _profile(self, source: str, opts: dict[str, Any], expression: bool) -> Any:
        from diagkit.inside.self_profile import SelfProfile

        try:
            run = SelfProfile(opts.pop("out", None), stem="ipython", command=["%diag"], **opts)
        except DiagError as exc:
            raise UsageError(f"%diag: {exc}") from None
        path = Path(run.out_dir, "cell.py")
        path.write_text(source)
        code, is_expr = _compile(source, str(path), expression)
        assert self.shell is not None  # a magic runs in a shell
        ns = self.shell.user_ns
        try:
            run.start()
        except DiagError as exc:
            raise UsageError(f"%diag: {exc}") from None
        value = None
        try:
            if is_expr:
                value = eval(code, ns)
            else:
                exec(code, ns)
        finally:
            try:
                run.stop()
            except DiagError as exc:
                print(f"diag: {exc}")
        if run.report is not None:
            self._show(run)
        return value

    def _show(self, run: Any) -> None:
        from IPython.display import display

        summary = text_summary(run.report, run.out_dir)
        page = Path(run.out_dir, "report.html")
        if getattr(self.shell, "kernel", None) is None or not page.exists():
            print(summary)  # a terminal IPython
            return
        display(
            {"text/html": iframe(page.read_text(encoding="utf-8")), "text/plain": summary},
            raw=True,
        )


def _compile(source: str, path: str, expression: bool) -> tuple[Any, bool]:
    if expression:
        try:
            return compile(source, path, "eval"), True
        except SyntaxError:
            pass
    return compile(source, path, "exec"), False


def iframe(page: str) -> str:
    """The page inline: its whole text in ``srcdoc``, escaped for the attribute."""
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;height:{IFRAME_HEIGHT}px;border:1px solid #ccc" '
        'sandbox="allow-scripts"></iframe>'
    )


def text_summary(report: Any, out_dir: Path) -> str:
    from rich.console import Console

    from diagkit.render.terminal.profile import render

    buf = io.StringIO()
    console = Console(
        file=buf, width=SUMMARY_WIDTH, color_system=None, force_jupyter=False, force_terminal=False
    )
    render(report, console, out_dir)
    return buf.getvalue().rstrip()


def load(ipython: Any) -> None:
    ipython.register_magics(DiagMagics)
