"""One thread's ids across py-spy and faulthandler, from a real process read both ways at once,
and ptrace access asked of a live process without stopping it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from diagkit.collectors.ptrace_access import may_ptrace, tracers
from diagkit.collectors.py_spy_dump import py_spy_dump
from diagkit.collectors.stacks import native_thread_ids, parse_faulthandler

PARKED = """
import faulthandler, signal, sys, threading, time
fh = open(sys.argv[1], "w")
faulthandler.register(signal.SIGUSR2, file=fh, all_threads=True, chain=False)
def parked():
    time.sleep(60)
for _ in range(int(sys.argv[2]) - 1):
    threading.Thread(target=parked, name="worker", daemon=True).start()
print("ready", flush=True)
parked()
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_faulthandler_threads_take_the_ids_py_spy_gives_the_same_threads(tmp_path, threads):
    stacks = tmp_path / "stacks.txt"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PARKED), str(stacks), str(threads)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        idents: dict[int, int] = {}
        seen = py_spy_dump(proc.pid, idents=idents)
        assert seen.available, seen.unavailable_reason
        tasks = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task"))
        assert sorted(th.thread_id for th in seen.threads) == tasks and len(tasks) == threads
        os.kill(proc.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 10
        while stacks.read_text().count("in <module>") < 1:  # the main thread comes last
            assert time.monotonic() < deadline, stacks.read_text()
            time.sleep(0.01)
        fallback = parse_faulthandler(stacks.read_text())
        assert len(fallback) == threads
        assert not set(th.thread_id for th in fallback) & set(tasks)  # pthread ids, not tids
        # Without py-spy's word, only a lone thread maps; with it, every one does.
        alone = parse_faulthandler(stacks.read_text())
        native_thread_ids(alone, {}, tasks, proc.pid)
        assert sorted(th.thread_id for th in alone) == (
            tasks if threads == 1 else sorted(th.thread_id for th in fallback)
        )
        native_thread_ids(fallback, idents, tasks, proc.pid)
        assert sorted(th.thread_id for th in fallback) == tasks
        main = next(th for th in fallback if th.thread_id == proc.pid)
        assert main.name == "MainThread" and main.frames[0].function == "parked"
    finally:
        proc.kill()
        proc.wait()


def test_ptrace_access_is_asked_without_touching_the_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert may_ptrace(proc.pid) is True and tracers(proc.pid) == []
        state = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(") ")[2][0]
        assert state in "RS"  # not stopped
    finally:
        proc.kill()
        proc.wait()
    assert may_ptrace(proc.pid) is None  # gone: it refused nothing
