"""The distribution index answers as ``importlib.metadata.packages_distributions()`` does, for
this machine's packages and for RECORD files that stretch the rules it reads them by."""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

import pytest

from diagkit.collectors.distributions import DistributionIndex


def _index_of(names: list[str], stepped: bool = True) -> dict[str, list[str]]:
    index = DistributionIndex()
    if stepped:  # as a run does: the steps first, where diag has time, then the question
        for step in index.steps():
            step()
    return index.get(names)


def test_every_installed_module_maps_to_the_distributions_packages_distributions_names():
    whole = md.packages_distributions()
    assert _index_of(list(whole)) == whole
    for name in [*list(whole)[:40], "py", "diagkit", "no_such_module_anywhere"]:
        expected = {name: whole[name]} if name in whole else {}
        assert _index_of([name], stepped=False) == expected, name


def _dist(site: Path, name: str, files: dict[str, str], info: str = "dist-info") -> None:
    folder = site / f"{name}-1.0.{info}"
    folder.mkdir()
    (folder / ("PKG-INFO" if info == "egg-info" else "METADATA")).write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    )
    for file, text in files.items():
        (folder / file).write_text(text, newline="")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder of distributions, the only one the metadata is looked for in."""
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    return tmp_path


def test_records_that_stretch_the_path_rules_map_as_packages_distributions_maps_them(site):
    record = "\r\n".join(
        [
            "plain/__init__.py,sha256=abc,10",
            "./dotted/x.py,,",
            "/absolute/x.py,,",
            "doubled//inner.py,,",
            "two/./parts/x.py,,",
            "single.py,,",
            "typed/py.typed,,",
            "compiled.pyc,,",
            "../../bin/script.py,,",
            "nodot,,",
            ".py,,",
        ]
    )
    _dist(site, "stretched", {"RECORD": record})
    _dist(site, "quoted", {"RECORD": '"inquotes/x.py",,\n"com,ma/x.py",,\n'})
    # The module's own lines come after many that credit nothing (compiled libraries).
    libs = "".join(f"later.libs/lib{i}.so,,\n" for i in range(20))
    _dist(site, "later", {"RECORD": f"{libs}later/__init__.py,,\nlater/more.py,,\n"})
    _dist(site, "mentions", {"RECORD": "own/later/data.txt,,\nown/x.py,,\nown/plain.dat,,\n"})
    _dist(site, "declared", {"top_level.txt": "twice\ntwice\nplain\n"})
    _dist(site, "formfeed", {"RECORD": "first/a.py,,\x0csecond/b.py,,\n"})
    _dist(site, "empty_record", {"RECORD": "", "SOURCES.txt": "fromsources/x.py\n"})
    _dist(site, "egg", {"SOURCES.txt": "eggmod/__init__.py\n"}, info="egg-info")
    whole = md.packages_distributions()
    # The cases are real: each is a name the rules credit, or one they refuse. Python 3.12
    # changed the rules (it credits only declared top-level names and plain packages here);
    # whatever the running Python's rules, diag's answer must be its answer.
    credited = {"plain", "twice"}
    if sys.version_info < (3, 12):
        credited |= {"dotted", "inquotes", "later", "own", "second", "eggmod"}
    assert credited <= set(whole)
    assert not {"typed", "py", "parts", "inner", "nodot", "data"} & set(whole)
    asked = [*whole, "py", "parts", "inner", "typed", "nodot", "missing", "com", "ma", "data"]
    assert _index_of(asked) == whole
    for name in asked:
        expected = {name: whole[name]} if name in whole else {}
        assert _index_of([name]) == expected, name


def test_a_distribution_found_for_no_module_asked_for_is_never_named(site):
    """Only the names of distributions that provide a module asked for are read."""
    _dist(site, "wanted", {"top_level.txt": "wanted\n"})
    _dist(site, "other", {"top_level.txt": "other\n"})
    (site / "other-1.0.dist-info" / "METADATA").write_bytes(b"Name: \xff\xfe broken\n")
    assert _index_of(["wanted"]) == {"wanted": ["wanted"]}
