"""The target-side pieces in a real second process: a program that reuses diag's descriptor, or forks
mid-record."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

from diagkit.collectors.stacks import faulthandler_dump
from diagkit.target.channel import Channel, read_events


@pytest.fixture
def tmpdir_here(tmp_path, monkeypatch):
    """tempfile.gettempdir() (and so the stack folder) inside the test's own folder."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


PREPARED = """
import faulthandler, os, sys, time
from diagkit.target import stackfile
fd = stackfile.create(os.getpid())
stackfile.write_header(fd)
faulthandler.register(stackfile.SIGNAL, file=fd, all_threads=True, chain=False)
os.close(fd)  # the program closes what it did not open, then opens its own file
mine = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
assert mine == fd or os.dup2(mine, fd) == fd
print("ready", flush=True)
time.sleep(60)
"""


def test_no_stack_signal_is_sent_once_the_program_reused_the_descriptor(tmpdir_here, tmp_path):
    mine = tmp_path / "mine.txt"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PREPARED), str(mine)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmpdir_here)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        sec = faulthandler_dump(proc.pid, wait=0.3)
        assert not sec.available and "closed diag's stack file descriptor" in sec.unavailable_reason
        assert mine.read_bytes() == b""
    finally:
        proc.kill()
        proc.wait()


def test_a_child_forked_while_a_record_is_being_written_can_write_its_own(tmp_path):
    channel = Channel(str(tmp_path))
    channel._lock.acquire()  # another thread of the program is mid-record at the fork
    pid = os.fork()
    if pid == 0:  # the child: its first record must not wait on the parent's lock
        import signal

        signal.alarm(5)
        channel.emit("from_child")
        os._exit(0)
    channel._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # -14 (SIGALRM): it waited on the lock
    channel.close()
    assert [e["k"] for e in read_events(str(tmp_path))] == ["from_child"]
