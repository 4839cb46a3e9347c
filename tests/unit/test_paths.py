"""diagkit._paths: the one way diag compares the files code objects name."""

from __future__ import annotations

import os

from diagkit._paths import real_path


def test_real_path_resolves_links_and_keeps_names_that_are_no_file(tmp_path):
    (tmp_path / "a.py").write_text("")
    os.symlink(tmp_path / "a.py", tmp_path / "b.py")
    assert real_path(str(tmp_path / "b.py")) == os.path.realpath(tmp_path / "a.py")
    assert real_path("<string>") == "<string>" and real_path("<frozen os>") == "<frozen os>"
    assert real_path("") == ""
