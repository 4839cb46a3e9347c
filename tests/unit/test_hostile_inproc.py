"""The target-side pieces under a program that closes, reuses and shares what diag keeps open."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings

import pytest

from diagkit.collectors.environment import REDACTED, recorded_variables
from diagkit.collectors.inproc_results import parse_events
from diagkit.target import stackfile
from diagkit.target.channel import Channel, read_events
from diagkit.target.ranges import RangeRecorder
from diagkit.target.warnings_counter import WarningCounter


@pytest.fixture
def tmpdir_here(tmp_path, monkeypatch):
    """tempfile.gettempdir() (and so the stack folder) inside the test's own folder."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def test_the_channel_never_writes_through_a_descriptor_the_program_reused(tmp_path):
    ch = Channel(str(tmp_path))
    ch.emit("start", t=1)
    mine = tmp_path / "mine.txt"
    # The program closes what it did not open and gets the same number for its own file.
    number = ch._fd
    os.close(number)
    fd = os.open(mine, os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(fd, number)
    ch.emit("warning", category="UserWarning", message="m", file="f.py", line=3)
    ch.close()
    os.close(fd)
    os.close(number)  # still the program's: the channel left it open
    assert mine.read_bytes() == b""
    kinds = [e["k"] for e in read_events(str(tmp_path))]
    assert kinds == ["start", "channel_reopened", "warning"]
    notes = parse_events(read_events(str(tmp_path)), 0).notes
    assert len(notes) == 1 and "reopened" in notes[0]


def test_the_channel_keeps_clear_of_stdio_and_low_numbers(tmp_path):
    ch = Channel(str(tmp_path))
    try:
        assert ch._fd > 900
    finally:
        ch.close()


def test_a_channel_whose_folder_is_gone_drops_records_without_raising(tmp_path):
    folder = tmp_path / "ch"
    folder.mkdir()
    ch = Channel(str(folder))
    os.close(ch._fd)
    shutil.rmtree(folder)
    ch.emit("warning", category="UserWarning", message="m", file="f.py", line=3)
    assert "could not be reopened" in ch.lost
    assert not folder.exists()  # never created again once the parent removed it


def test_a_failing_range_recorder_never_raises_into_the_program(tmp_path):
    ch = Channel(str(tmp_path))
    rec = RangeRecorder(ch)
    rec._stacks = None  # type: ignore[assignment]  # any failure inside the recorder
    for _ in range(3):
        rec.push("stage")
        rec.pop("stage")
    ch.close()
    errors = [e for e in read_events(str(tmp_path)) if e["k"] == "collector_error"]
    assert [e["where"] for e in errors] == ["ranges"]  # said once, not per call
    (note,) = parse_events(read_events(str(tmp_path)), 0).notes
    assert note.startswith("in-process collector ranges failed")


def test_a_failing_warning_counter_still_replays_the_programs_action(tmp_path):
    ch = Channel(str(tmp_path))
    with warnings.catch_warnings():
        warnings.resetwarnings()
        wc = WarningCounter(ch)
        shown: list[str] = []
        wc._orig_showwarnmsg = lambda msg: shown.append(str(msg.message))
        wc._counts = None  # type: ignore[assignment]
        wc.install()
        warnings.warn("first", UserWarning, stacklevel=1)
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="second"):  # the program's own filter, kept
            warnings.warn("second", UserWarning, stacklevel=1)
    ch.close()
    assert shown == ["first"]
    assert [e["where"] for e in read_events(str(tmp_path)) if e["k"] == "collector_error"] == [
        "warnings"
    ]


def test_secrets_in_recorded_variables_are_redacted():
    env = {
        "NUMBA_NUM_THREADS": "4",
        "NVIDIA_API_KEY": "nvapi-123",
        "CUDA_token_file": "/run/t",
        "OMP_PASSWORD": "pw",
        "MKL_CREDENTIALS": "c",
        "CUPY_SECRET": "s",
        "HOME_TOKEN": "not recorded at all",
        "PYTHONPATH": "/src",
    }
    assert recorded_variables(env) == {
        "CUDA_token_file": REDACTED,
        "CUPY_SECRET": REDACTED,
        "MKL_CREDENTIALS": REDACTED,
        "NUMBA_NUM_THREADS": "4",
        "NVIDIA_API_KEY": REDACTED,
        "OMP_PASSWORD": REDACTED,
        "PYTHONPATH": "/src",
    }


def _hostile(folder, owner: int, mode: int) -> None:
    folder.mkdir()
    os.chmod(folder, mode)
    os.chown(folder, owner, -1)


@pytest.mark.parametrize(
    ("owner", "mode", "said"),
    [(65534, 0o700, "owner uid 65534"), (None, 0o777, "mode 777"), (None, 0o750, "mode 750")],
)
def test_a_stack_folder_not_private_to_us_is_refused(tmpdir_here, tmp_path, owner, mode, said):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    folder = stackfile.runtime_dir()
    _hostile(folder, os.getuid() if owner is None else owner, mode)
    os.symlink(victim, folder / f"stacks-{os.getpid()}.txt")
    with pytest.raises(stackfile.UnsafeStackFile, match=said):
        stackfile.create(os.getpid())
    with pytest.raises(stackfile.UnsafeStackFile, match=said):
        stackfile.open_for_reading(os.getpid())
    assert victim.read_text() == "precious\n"


def test_a_stack_folder_that_is_a_link_is_refused(tmpdir_here, tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    os.symlink(real, stackfile.runtime_dir())
    with pytest.raises(stackfile.UnsafeStackFile, match="a link"):
        stackfile.create(os.getpid())
    assert list(real.iterdir()) == []


def test_a_stale_stack_file_is_replaced_and_a_linked_one_never_read(tmpdir_here, tmp_path):
    folder = stackfile.runtime_dir()
    folder.mkdir(mode=0o700)
    stale = folder / f"stacks-{os.getpid()}.txt"
    stale.write_text("STALE")
    fd = stackfile.create(os.getpid())
    os.close(fd)
    assert stale.read_text() == "" and stale.stat().st_mode & 0o777 == 0o600
    stale.unlink()
    secret = tmp_path / "secret"
    secret.write_text("not for diag dump")
    os.symlink(secret, stale)
    with pytest.raises(stackfile.UnsafeStackFile, match="a link"):
        stackfile.open_for_reading(os.getpid())
