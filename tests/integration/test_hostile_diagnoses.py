"""What diag says when py-spy fails although diag may trace the process, which thread is which
across sources, diag's own frames in stacks, and a Ctrl-C in the middle of ``diag dump``.

Everything is real: a second py-spy sampling the target hundreds of times a
second, a tracer holding it (ptrace SEIZE, as gdb or strace would), signals
sent to a real ``diag``. Each target is killed when its test ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from diagkit.collectors.sampler import find_py_spy
from diagkit.model.dump import DumpResult
from diagkit.model.report import Report
from diagkit.target import stackfile
from tests.conftest import run_diag

DIAGKIT = os.path.dirname(os.path.abspath(stackfile.__file__)) + os.sep


def _diags(file: str) -> bool:
    """A frame of diag's own (its bootstrap) or of runpy, which only diag put there."""
    return file.startswith(DIAGKIT) or file.endswith(("runpy.py", "<frozen runpy>"))


PERMISSION_WORDS = ("SYS_PTRACE", "refused", "ptrace_scope", "sudo")

# Holds the target as a debugger would (PTRACE_SEIZE: it keeps running) and passes on every
# signal it is sent, so it can still be stopped; ends when the target does.
HOLDER = """
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
pid = int(sys.argv[1])
for _ in range(1000):  # diag's own sampler may hold it for an instant
    if libc.ptrace(0x4206, pid, None, None) == 0:  # PTRACE_SEIZE
        break
    time.sleep(0.005)
else:
    sys.exit("seize: " + os.strerror(ctypes.get_errno()))
print("held", flush=True)
while True:
    try:
        _, status = os.waitpid(pid, 0x40000000)  # __WALL
    except ChildProcessError:
        break
    if not os.WIFSTOPPED(status):
        break
    sig = os.WSTOPSIG(status) if status >> 16 == 0 else 0
    libc.ptrace(7, pid, None, ctypes.c_void_p(sig))  # PTRACE_CONT, with the signal
"""

SPIN = """
import threading, sys
def f(n):
    return sum(range(50)) if n == 0 else f(n - 1)
def work():
    while True:
        for depth in range(20):
            f(depth)
for _ in range(int(sys.argv[1]) - 1):
    threading.Thread(target=work, daemon=True).start()
print("ready", flush=True)
work()
"""


def _kill_tree(proc: subprocess.Popen) -> None:
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        kids = []
    for p in [*kids, proc]:
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            p.kill()
    proc.wait()


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for proc in reversed(started):
        _kill_tree(proc)


def _start(procs: list, cmd: list[str], cwd: Path, first: str) -> subprocess.Popen:
    """Start ``cmd`` and wait until its first line of output is ``first``."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, text=True)
    procs.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(first), line
    return proc


def _spinner(procs: list, tmp_path: Path, threads: int) -> subprocess.Popen:
    (tmp_path / "spin.py").write_text(textwrap.dedent(SPIN))
    return _start(procs, [sys.executable, "spin.py", str(threads)], tmp_path, "ready")


def _hold(procs: list, tmp_path: Path, pid: int) -> subprocess.Popen:
    (tmp_path / "hold.py").write_text(textwrap.dedent(HOLDER))
    return _start(procs, [sys.executable, "hold.py", str(pid)], tmp_path, "held")


def _profiled(
    procs: list, tmp_path: Path, threads: int, *args: str
) -> tuple[subprocess.Popen, int]:
    """``diag profile`` of the spinner: (diag, the pid of the program it runs)."""
    (tmp_path / "spin.py").write_text(textwrap.dedent(SPIN))
    cmd = [
        sys.executable,
        "-m",
        "diagkit.cli",
        "profile",
        "-q",
        "--out",
        str(tmp_path / "r"),
        *args,
        "spin.py",
        str(threads),
    ]
    runner = _start(procs, cmd, tmp_path, "ready")
    kids = psutil.Process(runner.pid).children()
    boot = next(c for c in kids if any("bootstrap_main" in arg for arg in c.cmdline()))
    return runner, boot.pid


def _dump_json(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], DumpResult]:
    out = run_diag(["dump", "--json", *args], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return out, DumpResult.from_json(out.stdout)


def _no_permission_advice(text: str) -> None:
    assert not any(word in text for word in PERMISSION_WORDS), text


def test_dump_of_a_process_another_py_spy_samples_never_blames_permissions(procs, tmp_path):
    target = _spinner(procs, tmp_path, threads=3)
    exe = find_py_spy()
    assert exe is not None
    rec = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(target.pid),
            "--rate",
            "1000",
            "--format",
            "speedscope",
            "--output",
            str(tmp_path / "other.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    procs.append(rec)
    assert rec.stdout is not None
    while "Sampling process" not in (line := rec.stdout.readline()):
        assert line, "py-spy record did not start"
    for _ in range(2):
        out = run_diag(
            ["dump", "--json", "--pid", str(target.pid), "--repeat", "10", "--interval", "0.05"],
            cwd=tmp_path,
        )
        _no_permission_advice(out.stdout + out.stderr)
        assert out.returncode == 0, out.stderr
        (p,) = DumpResult.from_json(out.stdout).processes
        assert len(p.dumps) == 10 and all(d.source.startswith("py-spy dump") for d in p.dumps)
        assert len(p.verdicts) == 3  # three threads, each matched across the ten dumps
    assert target.poll() is None


def test_dump_of_a_process_a_debugger_holds_names_the_debugger(procs, tmp_path):
    target = _spinner(procs, tmp_path, threads=2)
    holder = _hold(procs, tmp_path, target.pid)
    out, res = _dump_json(tmp_path, "--pid", str(target.pid))
    (sec,) = res.processes[0].dumps
    assert sec.source == "py-spy dump --nonblocking"  # still read, without pausing it
    assert f"pid {holder.pid}" in sec.reason and "hold.py" in sec.reason
    assert {th.thread_id for th in sec.threads} == set(
        map(int, os.listdir(f"/proc/{target.pid}/task"))
    )
    _no_permission_advice(out.stdout + out.stderr)
    # Native frames need the pause: then the answer is who holds it, with its own status.
    native = run_diag(["dump", "--native", "--pid", str(target.pid)], cwd=tmp_path)
    assert native.returncode == 5 and native.stderr.count("\n") == 1, native.stderr
    assert native.stderr.startswith("diag: error: ")
    assert f"another tracer holds it (pid {holder.pid}" in native.stderr
    _no_permission_advice(native.stderr)
    assert psutil.Process(target.pid).status() != psutil.STATUS_STOPPED
    assert target.poll() is None


def test_timeout_stacks_of_a_program_a_debugger_holds(procs, tmp_path):
    runner, boot = _profiled(procs, tmp_path, 2, "--timeout", "2")
    holder = _hold(procs, tmp_path, boot)
    runner.wait(60)
    assert runner.returncode == 124
    raw = (tmp_path / "r" / "report.json").read_text()
    _no_permission_advice(raw)
    stacks = Report.from_json(raw).stacks
    assert stacks is not None and stacks.available
    assert stacks.source == "py-spy dump --nonblocking" and f"pid {holder.pid}" in stacks.reason
    assert len(stacks.threads) == 2


def test_sampling_a_process_a_debugger_holds_names_the_debugger(procs, tmp_path):
    target = _spinner(procs, tmp_path, threads=1)
    holder = _hold(procs, tmp_path, target.pid)
    attach = ["profile", "-q", "--pid", str(target.pid), "--duration", "1"]
    # Nonblocking reads need no ptrace attach: the held process is sampled all the same.
    read = run_diag(attach, cwd=tmp_path, out=tmp_path / "read")
    assert read.returncode == 0 and read.report.time.available, read.stderr
    assert "f" in {f.name for f in read.report.time.functions}
    # Blocking samples must attach, and the debugger holds it.
    out = run_diag([*attach, "--blocking"], cwd=tmp_path)
    assert out.returncode == 5 and out.stderr.count("\n") == 1, out.stderr  # busy, not refused
    assert out.stderr.startswith("diag: error: py-spy failed on pid ")
    assert f"another tracer holds it (pid {holder.pid}" in out.stderr
    _no_permission_advice(out.stderr)
    assert target.poll() is None


@pytest.mark.slow
def test_timeout_stacks_come_from_py_spy_while_diag_samples(procs, tmp_path):
    """diag's own sampler pauses the program 200 times a second: the dump waits its turn."""
    (tmp_path / "spin.py").write_text(textwrap.dedent(SPIN))
    for _ in range(4):
        out = run_diag(["profile", "-q", "--timeout", "1", "spin.py", "3"], cwd=tmp_path)
        assert out.returncode == 124, out.stderr
        raw = (out.out_dir / "report.json").read_text()
        _no_permission_advice(raw)
        stacks = out.report.stacks
        assert stacks is not None and stacks.source == "py-spy dump", stacks.reason
        assert len(stacks.threads) == 3


@pytest.mark.parametrize("threads", [1, 2])
def test_a_thread_is_one_thread_whether_py_spy_or_faulthandler_saw_it(procs, tmp_path, threads):
    """The first dump falls back to faulthandler (a debugger holds the program, and --native
    needs the pause); once the debugger lets go, py-spy answers the rest."""
    _, boot = _profiled(procs, tmp_path, threads)
    stack_file = stackfile.path_for(boot)
    size = stack_file.stat().st_size
    holder = _hold(procs, tmp_path, boot)
    cmd = [
        sys.executable,
        "-m",
        "diagkit.cli",
        "dump",
        "--json",
        "--native",
        "--pid",
        str(boot),
        "--repeat",
        "4",
        "--interval",
        "0.6",
    ]
    dump = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    procs.append(dump)
    while stack_file.stat().st_size == size:  # faulthandler answered the first dump
        assert dump.poll() is None, dump.communicate()
        time.sleep(0.01)
    holder.kill()
    holder.wait()
    stdout, stderr = dump.communicate(timeout=60)
    assert dump.returncode == 0, stderr
    (p,) = DumpResult.from_json(stdout).processes
    sources = [d.source for d in p.dumps]
    assert sources[0].startswith("faulthandler") and sources[-1] == "py-spy dump", sources
    tasks = set(map(int, os.listdir(f"/proc/{boot}/task")))
    assert len(tasks) == threads
    for d in p.dumps:
        assert {th.thread_id for th in d.threads} == tasks, d.source
    assert len(p.verdicts) == threads, p.summary
    assert p.summary.endswith(
        f"of {threads} threads in 4 dumps over {p.dumps[-1].taken_t - p.dumps[0].taken_t:.1f} s"
    )
    main = next(v for v in p.verdicts if v.thread_id == boot)
    assert main.name == "MainThread" and main.dumps == 4


def test_timeout_and_dump_stacks_show_the_program_not_diag(procs, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "__main__.py").write_text(textwrap.dedent(SPIN))
    out = run_diag(["profile", "-q", "--timeout", "1", "-m", "pkg", "1"], cwd=tmp_path)
    assert out.returncode == 124, out.stderr
    (main,) = out.report.stacks.threads
    files = [f.file for f in main.frames]
    assert main.frames[-1].function == "<module>" and files[-1].endswith("pkg/__main__.py")
    assert not any(_diags(f) for f in files), files
    _, boot = _profiled(procs, tmp_path, 1)
    _, res = _dump_json(tmp_path, "--pid", str(boot))
    (th,) = res.processes[0].dumps[0].threads
    assert th.frames[-1].function == "<module>" and th.frames[-1].file == str(tmp_path / "spin.py")
    assert not any(_diags(f.file) for f in th.frames)


POOL = """
import multiprocessing as mp
def burn(n):
    s = 0
    for i in range(n):
        s += i
    return s
if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Pool(2) as pool:
        print(sum(pool.map(burn, [8_000_000] * 4)))
"""


def test_subprocesses_are_groups_and_diag_frames_never_functions(script, tmp_path):
    script("pool.py", POOL)
    out = run_diag(["profile", "-q", "--subprocesses", "pool.py"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    time_ = out.report.time
    names = [(f.name, f.file) for f in time_.functions]
    assert not [n for n, _ in names if n.startswith("process ")], names
    assert not [f for _, f in names if _diags(f)], names
    assert "burn" in {n for n, _ in names}
    groups = {t.thread.split(" Thread ")[0] for t in time_.threads}
    assert len(groups) >= 2 and all(g.startswith("Process ") for g in groups), groups


def _wait_for_py_spy_dumps(diag: subprocess.Popen, n: int) -> None:
    """Until ``n`` py-spy dumps started by ``diag`` have been seen (so n-1 have finished)."""
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while len(seen) < n:
        assert time.monotonic() < deadline and diag.poll() is None
        try:
            kids = psutil.Process(diag.pid).children()
            seen |= {k.pid for k in kids if "dump" in k.cmdline() and "py-spy" in k.cmdline()[0]}
        except psutil.Error:
            pass
        time.sleep(0.005)


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_during_repeated_dumps_prints_the_dumps_taken(procs, tmp_path, as_json):
    target = _spinner(procs, tmp_path, threads=1)
    cmd = [
        sys.executable,
        "-m",
        "diagkit.cli",
        "dump",
        "--pid",
        str(target.pid),
        "--repeat",
        "20",
        "--interval",
        "0.2",
        *(["--json"] if as_json else []),
    ]
    # A session of its own: the signal goes to diag's whole group, as a terminal's Ctrl-C does.
    diag = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    procs.append(diag)
    _wait_for_py_spy_dumps(diag, 3)
    os.killpg(diag.pid, signal.SIGINT)
    stdout, stderr = diag.communicate(timeout=30)
    assert diag.returncode == 130, stderr
    assert "Traceback" not in stderr
    if as_json:
        res = DumpResult.from_json(stdout)
        (p,) = res.processes
        assert res.interrupted and 2 <= res.rounds < 20 and len(p.dumps) == res.rounds
        assert all(d.threads and d.threads[0].frames for d in p.dumps)
        # A moving thread is named by the deepest frame all dumps share: any of the spin's own.
        assert len(p.verdicts) == 1 and p.verdicts[0].function in {"f", "work", "<module>"}
    else:
        # The stack printed is the last dump's: the spin may be between calls of f then.
        assert f"pid {target.pid}" in stdout and "stacks" in stdout and "work (spin.py:" in stdout
        last = stdout.strip().splitlines()[-1]
        assert last.startswith("interrupted (Ctrl-C) after ") and last.endswith(" of 20 dumps")
        assert 2 <= int(last.split()[3]) < 20
    assert target.poll() is None
    assert psutil.Process(target.pid).status() != psutil.STATUS_STOPPED
