"""``diag dump`` where the kernel refuses ptrace: the fix is named, and diag's own runs still answer.

Made real, not mocked: diag runs under setpriv without CAP_SYS_PTRACE, and the
target makes itself non-dumpable (prctl PR_SET_DUMPABLE 0). Each test first
checks that py-spy itself is refused here, so a pass means what it says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import psutil
import pytest

setpriv = shutil.which("setpriv")
DROP = [setpriv or "setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", "--"]

TARGET = """
import ctypes, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
def hide():
    time.sleep(60)
print("ready", flush=True)
hide()
"""

pytestmark = pytest.mark.skipif(
    setpriv is None or os.geteuid() != 0, reason="needs setpriv and root to drop a capability"
)


def _refused(pid: int) -> None:
    """Skip unless py-spy, without the capability, really cannot read ``pid``."""
    exe = os.path.join(os.path.dirname(sys.executable), "py-spy")
    probe = subprocess.run([*DROP, exe, "dump", "--pid", str(pid)], capture_output=True, text=True)
    if probe.returncode == 0:
        pytest.skip("py-spy still reads a non-dumpable process without CAP_SYS_PTRACE here")


def _dump(pid: int, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [*DROP, sys.executable, "-m", "diagkit.cli", "dump", "--pid", str(pid), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_refused_dump_names_the_fix(tmp_path):
    (tmp_path / "t.py").write_text(textwrap.dedent(TARGET))
    proc = subprocess.Popen(
        [sys.executable, "t.py"], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        _refused(proc.pid)
        out = _dump(proc.pid)
        assert out.returncode == 4 and out.stdout == ""
        err = out.stderr
        assert err.startswith(
            f"diag: error: the kernel refused to let diag read the stacks of pid {proc.pid}"
        )
        assert "SYS_PTRACE" in err and "docker run --cap-add SYS_PTRACE" in err
        assert "diag profile" in err and err.count("\n") == 1
        assert proc.poll() is None  # no stack signal was sent to a process that cannot take it
    finally:
        proc.kill()
        proc.wait()


def test_process_started_by_diag_profile_is_dumped_through_faulthandler(tmp_path):
    (tmp_path / "t.py").write_text(textwrap.dedent(TARGET))
    out = str(tmp_path / "r")
    cmd = [sys.executable, "-m", "diagkit.cli", "profile", "-q", "--out", out, "t.py"]
    runner = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        assert runner.stdout is not None and runner.stdout.readline() == "ready\n"
        boot = next(
            c
            for c in psutil.Process(runner.pid).children()
            if any(a.endswith("bootstrap_main.py") for a in c.cmdline())
        )
        _refused(boot.pid)
        out = _dump(boot.pid, "--repeat", "2", "--interval", "0.2")
        assert out.returncode == 0, out.stderr
        assert "from faulthandler (signal)" in out.stdout
        assert "py-spy was refused access" in out.stdout  # says why it took the other way
        assert "stuck in hide (t.py:5)" in out.stdout
        assert boot.is_running() and boot.status() != psutil.STATUS_ZOMBIE
    finally:
        runner.terminate()
        runner.wait(30)


def test_refused_attach_names_the_fix(tmp_path):
    (tmp_path / "t.py").write_text(textwrap.dedent(TARGET))
    proc = subprocess.Popen(
        [sys.executable, "t.py"], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        _refused(proc.pid)
        out_dir = str(tmp_path / "r")
        cmd = [*DROP, sys.executable, "-m", "diagkit.cli", "profile", "--out", out_dir]
        out = subprocess.run(
            [*cmd, "--pid", str(proc.pid), "--duration", "1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 4
        assert out.stderr.startswith(
            f"diag: error: the kernel refused to let diag sample pid {proc.pid}"
        )
        assert "SYS_PTRACE" in out.stderr and out.stderr.count("\n") == 1
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


# diag with every collector's words for its failures changed, the kind of each failure kept:
# the exit status must follow the kind. Each rewording is written down, to show it happened.
REWORDED = """
import sys
from diagkit.collectors import py_spy_dump, sampler
from diagkit.cli import main

def reword(make):
    def made(*args):
        failure = make(*args)
        changed = failure.message.replace("refused access", "turned away")
        with open(sys.argv[1], "a") as fh:
            print(changed, file=fh)
        return type(failure)(changed)
    return made

py_spy_dump._failure = reword(py_spy_dump._failure)
sampler.PySpySampler._failure = reword(sampler.PySpySampler._failure)
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["dump", "--pid", "{pid}"], "read the stacks of"),
        (["profile", "--out", "{out}", "--duration", "1", "--pid", "{pid}"], "sample"),
    ],
)
def test_a_refusal_exits_4_because_of_its_kind_not_its_words(tmp_path, args, said):
    (tmp_path / "t.py").write_text(textwrap.dedent(TARGET))
    proc = subprocess.Popen(
        [sys.executable, "t.py"], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        _refused(proc.pid)
        words = tmp_path / "words.txt"
        argv = [a.format(pid=proc.pid, out=tmp_path / "r") for a in args]
        out = subprocess.run(
            [*DROP, sys.executable, "-c", REWORDED, str(words), *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )
        reworded = words.read_text()
        assert "turned away" in reworded and "refused access" not in reworded
        assert out.returncode == 4, out.stderr
        assert out.stderr.startswith(f"diag: error: the kernel refused to let diag {said} pid")
    finally:
        proc.kill()
        proc.wait()
