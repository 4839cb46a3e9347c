"""write_atomic: the file at the path is always a whole version, the old one or the new one.

A plain ``open(path, "w").write(text)`` empties the old file before the first byte of
the new one is written: a reader at that moment, or a write that fails part way, sees
neither version.
"""

from __future__ import annotations

import os

import pytest

from diagkit.model.store import write_atomic

OLD = '{"schema_version": "1.0", "run": "old"}\n'


def test_a_write_that_fails_part_way_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(OLD)
    # Encoding fails after the first megabyte: a lone surrogate is not UTF-8.
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "x" * (1 << 20) + "\udc80")
    assert path.read_text() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temporary left


def test_a_reader_that_opened_the_old_file_reads_all_of_it(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(OLD)
    with path.open() as reader:
        write_atomic(path, '{"run": "new"}\n')
        assert reader.read() == OLD  # the old file, untouched: the new one replaced its name
    assert path.read_text() == '{"run": "new"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_the_new_file_is_readable_as_the_umask_says(tmp_path):
    path = tmp_path / "sub" / "report.json"
    old = os.umask(0o027)
    try:
        write_atomic(path, "{}")
    finally:
        os.umask(old)
    assert path.read_text() == "{}" and path.stat().st_mode & 0o777 == 0o640
