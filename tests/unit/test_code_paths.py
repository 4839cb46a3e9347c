"""How ``diag diff`` names a file: from where the run imported it, so two checkouts or environments match."""

from __future__ import annotations

import pytest

from diagkit.compare.code_paths import portable_path
from diagkit.model.report import Target

VA = Target(["va/boot.py"], "script", "/a", "py")
HERE = Target(["boot.py"], "script", "/w", "py")


@pytest.mark.parametrize(
    ("path", "target", "named"),
    [
        ("/a/va/.venv/lib/python3.11/site-packages/pkg/m.py", VA, "pkg/m.py"),
        ("/opt/py/lib/python3.12/json/decoder.py", HERE, "json/decoder.py"),
        ("/a/va/src/tool.py", VA, "src/tool.py"),
        ("/a/lib/tool.py", VA, "lib/tool.py"),
        ("/w/pkg/fit.py", Target(["-m", "pkg.fit"], "module", "/w", "py"), "pkg/fit.py"),
        ("/elsewhere/tool.py", HERE, "/elsewhere/tool.py"),
        ("<frozen runpy>", HERE, "<frozen runpy>"),
    ],
)
def test_a_file_is_named_from_where_the_run_imported_it(path, target, named):
    assert portable_path(path, target) == named
