"""The faulthandler fallback signals only processes that catch the signal, and parses what they write.

SIGUSR2 kills a process that does not handle it, and a stack file left behind
by a killed run names a pid that may since belong to another program.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from diagkit.collectors.stacks import faulthandler_dump
from diagkit.target import stackfile

PREPARED = """
import faulthandler, os, sys, threading, time
from diagkit.target import stackfile
fd = stackfile.create(os.getpid())
stackfile.write_header(fd)
faulthandler.register(stackfile.SIGNAL, file=fd, all_threads=True, chain=False)
in_place = threading.Event()
def parked(main=False):
    if main:
        in_place.wait()
        print("ready", flush=True)  # both threads are in parked from here on
    else:
        in_place.set()
    time.sleep(60)
threading.Thread(target=parked, daemon=True).start()
parked(main=True)
"""


def _start(code: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def test_a_process_that_does_not_catch_the_signal_is_never_sent_it():
    proc = _start("import time; print('ready', flush=True); time.sleep(60)")
    path = stackfile.path_for(proc.pid)
    try:
        os.close(stackfile.create(proc.pid))  # as if a killed run had left it for this pid
        sec = faulthandler_dump(proc.pid, wait=0.3)
        assert not sec.available and "does not handle" in sec.unavailable_reason
        time.sleep(0.1)
        assert proc.poll() is None  # still alive: SIGUSR2 would have killed it
    finally:
        path.unlink(missing_ok=True)
        proc.kill()
        proc.wait()


def test_a_prepared_process_answers_with_every_thread():
    proc = _start(PREPARED)
    try:
        sec = faulthandler_dump(proc.pid)
        assert sec.available, sec.unavailable_reason
        assert len(sec.threads) == 2
        assert all(th.frames and th.frames[0].function == "parked" for th in sec.threads)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
        stackfile.path_for(proc.pid).unlink(missing_ok=True)
