"""A real ``diag profile`` against a target that is hostile to it, or in a hostile place.

Folders planted by another user, a program that closes and reuses every descriptor,
a folder that holds another diagkit, diag killed with SIGKILL, closed stdio, and
secrets in the environment: the program runs as under plain python, nothing of its
own is written into, and the run still reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from diagkit.collectors.environment import REDACTED
from tests.conftest import run_diag

# A folder's worth of pids around the next ones the kernel hands out.
PIDS_AHEAD = 3000


def _tmpdir(tmp_path: Path) -> Path:
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return tmp


def _next_pids() -> range:
    last = int(Path("/proc/sys/kernel/ns_last_pid").read_text())
    return range(last + 1, last + 1 + PIDS_AHEAD)


PID_TO_FILE = """
import os, sys
from pathlib import Path
Path("pid.txt").write_text(str(os.getpid()))
def work():
    return sum(i * i for i in range(300_000))
for _ in range(10):
    work()
"""


def test_a_planted_stack_folder_full_of_links_is_never_written_through(tmp_path, script):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o600)
    tmp = _tmpdir(tmp_path)
    planted = tmp / f"diagkit-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)
    os.chown(planted, 65534, 65534)  # another user made it first
    pids = _next_pids()
    for pid in pids:
        (planted / f"stacks-{pid}.txt").symlink_to(victim)
    script("t.py", PID_TO_FILE)
    r = run_diag(["profile", "-q", "t.py"], cwd=tmp_path, env={"TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stderr
    assert int((tmp_path / "pid.txt").read_text()) in pids  # a link waited at its name
    assert victim.read_text() == "precious\n"
    report = r.report
    assert report.time.available and report.time.samples > 0
    assert any(f.name == "work" for f in report.time.functions)
    assert any("no stack file" in n and "owner uid 65534" in n for n in report.notes)
    assert sorted(p.name for p in tmp.iterdir()) == [planted.name]  # no channel folder left


STALE_CHECK = """
import os, stat
from diagkit.target import stackfile
path = stackfile.path_for(os.getpid())
st = os.lstat(path)
print(stat.S_ISREG(st.st_mode), oct(st.st_mode & 0o777), path.read_bytes()[:18])
"""


def test_stale_stack_files_of_dead_pids_are_replaced(tmp_path, script):
    tmp = _tmpdir(tmp_path)
    folder = tmp / f"diagkit-{os.getuid()}"
    folder.mkdir(mode=0o700)
    for pid in _next_pids():
        (folder / f"stacks-{pid}.txt").write_text("STALE")
    script("t.py", STALE_CHECK)
    r = run_diag(["profile", "-q", "t.py"], cwd=tmp_path, env={"TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["True 0o600 b'diagkit stack file'"]
    assert r.report.target.pid not in {int(p.stem.split("-")[1]) for p in folder.iterdir()}


REUSES_EVERY_DESCRIPTOR = """
import os, warnings
import diagkit
os.closerange(3, 4096)  # as daemons and test harnesses do
mine = os.open("mine.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for n in range(3, 1024):  # its own file under every number diag could hold
    if n != mine:
        os.dup2(mine, n)
os.write(mine, b"program data\\n")
with diagkit.range("stage"):
    warnings.warn("after closerange")
raise ValueError("the program's own error")
"""


def test_a_program_that_closes_and_reuses_every_descriptor_gets_none_of_diags_writes(
    tmp_path, script
):
    script("t.py", REUSES_EVERY_DESCRIPTOR)
    r = run_diag(["profile", "-q", "t.py"], cwd=tmp_path)
    assert (tmp_path / "mine.txt").read_bytes() == b"program data\n"
    assert r.returncode == 1, r.stderr
    report = r.report
    # The program's own exception, not one raised by diag's hooks at its warn() call.
    assert report.outcome.exception is not None
    assert report.outcome.exception.type == "ValueError"
    assert "Bad file descriptor" not in r.stderr and "ValueError" in r.stderr
    assert [w.message for w in report.numerics.warnings] == ["after closerange"]
    assert [s.name for s in report.ranges.stats] == ["stage"]
    assert any("reopened" in n for n in report.notes)


FAKE_DIAGKIT = "raise SystemExit('the diagkit in the working directory was imported')\n"

SHOWS_ITS_VIEW = """
import json, os, sys
def work():
    return sum(i * i for i in range(200_000))
for _ in range(15):
    work()
view = {"path0": sys.path[0], "argv": sys.argv, "safe_path": sys.flags.safe_path,
        "stdio": [repr(f) if f is None else f.fileno() for f in (sys.stdin, sys.stdout, sys.stderr)],
        "open": [n for n in range(3) if os.path.exists(f"/proc/self/fd/{n}")]}
first = os.open(os.devnull, os.O_RDONLY)  # the lowest free number, as under plain python
view["first_open"] = first
os.close(first)
if len(sys.argv) > 1:
    open(sys.argv[1], "w").write(json.dumps(view))
else:
    print(json.dumps(view))
"""


def _diag_installed(*args: str) -> list[str]:
    # As the installed ``diag`` command runs: its own sys.path does not start with the cwd.
    return [sys.executable, "-P", "-m", "diagkit.cli", *args]


def test_a_working_directory_holding_another_diagkit_is_not_imported(tmp_path, script):
    (tmp_path / "diagkit").mkdir()
    (tmp_path / "diagkit" / "__init__.py").write_text(FAKE_DIAGKIT)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "t.py").write_text(SHOWS_ITS_VIEW)
    (tmp_path / "t.py").symlink_to(sub / "t.py")  # python resolves the link for sys.path[0]
    plain = subprocess.run(
        [sys.executable, "t.py"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    out = tmp_path / "r"
    r = subprocess.run(
        _diag_installed("profile", "-q", "--out", str(out), "t.py"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(plain.stdout)
    assert json.loads(plain.stdout)["path0"] == str(sub)
    raw = json.loads((out / "report.json").read_text())
    assert raw["time"]["samples"] > 5
    assert any(f["name"] == "work" for f in raw["time"]["functions"])


SLEEPS = """
import os, time
from pathlib import Path
Path("pid.txt").write_text(str(os.getpid()))
time.sleep(120)
"""


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_the_target_does_not_outlive_a_diag_killed_by_sigkill(tmp_path, script):
    script("t.py", SLEEPS)
    tmp = _tmpdir(tmp_path)
    diag = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diagkit.cli",
            "profile",
            "-q",
            "--out",
            str(tmp_path / "r"),
            "t.py",
        ],
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = tmp_path / "pid.txt"
    target = 0
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and diag.poll() is None
            time.sleep(0.05)
        target = int(pid_file.read_text())
        diag.kill()
        diag.wait()
        assert _gone(target, within=10.0)
        # The orphaned bootstrap removed the channel folder that nobody else would.
        assert not [p.name for p in tmp.iterdir() if p.name.startswith("diagkit-run-")]
    finally:
        diag.kill()
        if target:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGKILL)


@pytest.mark.parametrize(
    "closed",
    [
        "0<&-",
        "1>&-",
        "2>&-",
    ],
)
def test_closed_stdio_is_seen_closed_as_under_plain_python(tmp_path, script, closed):
    script("t.py", SHOWS_ITS_VIEW)
    out = tmp_path / "view.json"

    def view(*cmd: str) -> dict:
        out.unlink(missing_ok=True)
        subprocess.run(
            ["bash", "-c", f'exec "$@" {closed}', "_", *cmd, "t.py", str(out)],
            cwd=tmp_path,
            timeout=120,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return json.loads(out.read_text())

    plain = view(sys.executable)
    under_diag = view(*_diag_installed("profile", "-q", "--out", str(tmp_path / "r")))
    assert under_diag == plain
    fd = int(closed[0])
    assert plain["stdio"][fd] == "None" and fd not in plain["open"] and plain["first_open"] == fd


def test_a_usage_error_with_stderr_closed_keeps_its_exit_status(tmp_path):
    # The one-line error has nowhere to go; the caller still learns from the status.
    cmd = _diag_installed("profile", "--out", str(tmp_path / "r"), "missing.py")
    done = subprocess.run(["bash", "-c", 'exec "$@" 2>&-', "_", *cmd], cwd=tmp_path, timeout=60)
    assert done.returncode == 2


def test_secret_variables_are_not_written_into_the_report(tmp_path, script):
    script("t.py", "print('ok')\n")
    secrets = {
        "NVIDIA_API_KEY": "nvapi-s3cret",
        "NUMBA_TOKEN": "tok-s3cret",
        "CUDA_PASSWORD": "pw-s3cret",
        "OMP_CREDENTIALS": "cred-s3cret",
    }
    r = run_diag(["profile", "-q", "t.py"], cwd=tmp_path, env={**secrets, "NUMBA_NUM_THREADS": "2"})
    assert r.returncode == 0, r.stderr
    variables = r.report.environment.variables
    assert {k: variables[k] for k in secrets} == dict.fromkeys(secrets, REDACTED)
    assert variables["NUMBA_NUM_THREADS"] == "2"
    assert "s3cret" not in (r.out_dir / "report.json").read_text()


def test_secret_variables_of_an_attached_process_are_not_written(tmp_path, script):
    script("t.py", "import time\nprint('ready', flush=True)\ntime.sleep(30)\n")
    proc = subprocess.Popen(
        [sys.executable, "t.py"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "NVIDIA_API_KEY": "nvapi-s3cret"},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        r = run_diag(["profile", "-q", "--pid", str(proc.pid), "--duration", "0.5"], cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.report.environment.variables["NVIDIA_API_KEY"] == REDACTED
        assert "s3cret" not in (r.out_dir / "report.json").read_text()
    finally:
        proc.kill()
        proc.wait()


FORKS_A_WORKER = """
import os, signal, sys
import diagkit
with diagkit.range("before"):
    pass
pid = os.fork()
if pid == 0:
    sys.exit(0)  # a worker that ends normally: exit handlers run in it
os.waitpid(pid, 0)
with diagkit.range("after"):
    pass
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_forked_worker_ending_normally_writes_no_stale_copy_of_the_runs_records(tmp_path, script):
    script("t.py", FORKS_A_WORKER)
    tmp = _tmpdir(tmp_path)
    r = run_diag(["profile", "-q", "t.py"], cwd=tmp_path, env={"TMPDIR": str(tmp)})
    assert r.returncode == 128 + signal.SIGKILL, r.stderr
    assert sorted(s.name for s in r.report.ranges.stats) == ["after", "before"]
