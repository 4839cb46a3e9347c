"""The in-process collector without a program: its result file, whether a GPU is visible, its modes."""

from __future__ import annotations

import pytest

from diagkit.gpu.target import inprocess
from diagkit.gpu.target.inprocess import read_result


def test_read_result_without_a_file_says_so(tmp_path):
    sec = read_result(tmp_path / "never-written.json")
    assert not sec.available and "wrote nothing" in sec.unavailable_reason
    (tmp_path / "bad.json").write_text("{not json")
    sec = read_result(tmp_path / "bad.json")
    assert not sec.available and "unreadable" in sec.unavailable_reason


def test_cuda_visible_devices_empty_hides_the_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    found, why = inprocess.gpu_visible()
    assert not found and "CUDA_VISIBLE_DEVICES" in why


def test_start_rejects_unknown_mode(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        inprocess.start(tmp_path / "x.json", mode="fast")
