"""Hostile folders and limits: full and read-only disks, long and shared report folders,
folders left by refused runs, and a memory limit that refuses diag its threads.

In every ending the program's own status comes back, diag says what went wrong in one
line, and nothing of diag's is left in $TMPDIR.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DiagRun, run_diag

BIG_ERROR = 'raise ValueError("x" * 300_000)\n'


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A private $TMPDIR for diag, to see what it leaves there."""
    private = tmp_path / "tmpdir"
    private.mkdir()
    return private, {"TMPDIR": str(private)}


def channels_left(private: Path) -> list[str]:
    return sorted(p.name for p in private.glob("diagkit-run-*"))


@pytest.fixture
def small_disk(tmp_path: Path):
    """``small_disk("700k")`` -> the folder of a fresh tmpfs of that size (root only)."""
    mounted: list[Path] = []
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")

    def mount(size: str) -> Path:
        where = tmp_path / f"disk-{size}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def diag_frames(run: DiagRun) -> bool:
    """Whether diag printed a traceback of its own (the program's has no diag frames)."""
    return "diagkit/" in run.stderr or "OSError" in run.stderr


# 256k: report.json (~600 KB) does not fit; 700k: it fits, the HTML page does not;
# 1400k: both fit, but the second save of report.json does not.
@pytest.mark.parametrize("size", ["256k", "700k", "1400k"])
def test_a_full_disk_keeps_the_status_and_what_fits(tmp_path, script, small_disk, tmpdir_env, size):
    private, env = tmpdir_env
    target = script("big.py", BIG_ERROR)
    out = small_disk(size) / "r"
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path, out=out, env=env)
    assert run.returncode == 1  # the program's uncaught exception, not diag's
    assert not diag_frames(run), run.stderr[-3000:]
    assert channels_left(private) == []
    assert not [p.name for p in out.glob(".*.tmp")]
    last = run.stderr.strip().splitlines()[-1]
    if (out / "report.json").exists():
        report = run.report
        assert report.outcome.kind == "exception"
        assert all((out / name).exists() for name in report.files.values())
        assert not last.startswith("diag: ")
    else:
        assert size == "256k"
        assert last.startswith("diag: error: ")
        assert "No space left on device" in last and "status (1)" in last


def test_a_folder_turned_read_only_mid_run(tmp_path, script, small_disk, tmpdir_env):
    private, env = tmpdir_env
    disk = small_disk("4m")
    target = script(
        "ro.py",
        "import subprocess, sys\n"
        "subprocess.run(['mount', '-o', 'remount,ro', sys.argv[1]], check=True)\n",
    )
    run = run_diag(["profile", "-q", str(target), str(disk)], cwd=tmp_path, out=disk / "r", env=env)
    assert run.returncode == 0  # what the program returned
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("diag: error: ") and "Read-only file system" in lines[0]
    assert "status (0)" in lines[0]
    assert channels_left(private) == []


def test_a_report_folder_name_too_long_is_refused_before_the_run(tmp_path, script):
    target = script("ok.py", "open('ran', 'w').write('1')\n")
    run = run_diag(["profile", str(target)], cwd=tmp_path, out=tmp_path / ("a" * 300) / "r")
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("diag: error: --out ")
    assert "File name too long" in lines[0]
    assert not (tmp_path / "ran").exists()


def test_concurrent_runs_with_default_folders_keep_every_report(tmp_path, script):
    target = script("same.py", "print('x')\n")
    cmd = [sys.executable, "-m", "diagkit.cli", "profile", "-q", str(target)]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL) for _ in range(5)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 5
    folders = sorted((tmp_path / "diag-reports").iterdir())
    assert len(folders) == 5
    assert all((f / "report.json").is_file() for f in folders)


def _wait_for(path: Path, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


HOLD = (
    "import os, time\n"
    "open('started', 'w').write(str(os.getpid()))\n"
    "while not os.path.exists('go'):\n"
    "    time.sleep(0.02)\n"
)


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, script):
    target = script("hold.py", HOLD)
    out = tmp_path / "shared"
    cmd = [sys.executable, "-m", "diagkit.cli", "profile", "-q", "--out", str(out), str(target)]
    first = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(tmp_path / "started")
        second = run_diag(["profile", "-q", str(target)], cwd=tmp_path, out=out)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "another diag is writing" in lines[0], second.stderr
    finally:
        (tmp_path / "go").write_text("")
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert (out / "report.json").is_file()
    # Once the first run is over, the folder may be used again.
    again = run_diag(["profile", "-q", str(script("ok.py", "print(1)\n"))], cwd=tmp_path, out=out)
    assert again.returncode == 0, again.stderr
    assert again.report.target.argv[0].endswith("ok.py")


def test_a_killed_diag_does_not_hold_its_folder(tmp_path, script):
    target = script("hold.py", HOLD)
    out = tmp_path / "shared"
    cmd = [sys.executable, "-m", "diagkit.cli", "profile", "-q", "--out", str(out), str(target)]
    first = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.DEVNULL)
    _wait_for(tmp_path / "started")
    program = int((tmp_path / "started").read_text())
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    (tmp_path / "go").write_text("")  # the program outlives a SIGKILLed diag: let it end
    for _ in range(500):
        try:
            os.kill(program, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    again = run_diag(["profile", "-q", str(script("ok.py", "print(1)\n"))], cwd=tmp_path, out=out)
    assert again.returncode == 0, again.stderr
    assert (out / "report.json").is_file()


def test_an_empty_out_is_refused_and_nothing_is_written(tmp_path, script):
    target = script("ok.py", "open('ran', 'w').write('1')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "diagkit.cli", "profile", "--out", "", str(target)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("diag: error: ") and "--out" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "ran").exists()
    assert not (tmp_path / "report.json").exists()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_refused_pid_leaves_no_folder_behind(tmp_path):
    run = run_diag(["profile", "--pid", str(_dead_pid())], cwd=tmp_path, out=tmp_path / "a" / "b")
    assert run.returncode != 0 and run.stderr.startswith("diag: error: ")
    assert not (tmp_path / "a").exists()
    # A folder that was there before is the user's: it stays.
    (tmp_path / "mine").mkdir()
    run = run_diag(["profile", "--pid", str(_dead_pid())], cwd=tmp_path, out=tmp_path / "mine")
    assert run.returncode != 0
    assert (tmp_path / "mine").is_dir()


def test_an_nsys_rep_without_nsys_leaves_no_folder_behind(tmp_path):
    from diagkit.gpu.nsys import run as nsys_run

    if nsys_run.find_nsys(None) is not None:
        pytest.skip("nsys is installed here")
    rep = tmp_path / "trace.nsys-rep"
    rep.write_bytes(b"not really")
    run = run_diag(["gpu-trace", "--import", str(rep), "--out", str(tmp_path / "g")], cwd=tmp_path)
    assert run.returncode == 2 and "needs nsys" in run.stderr
    assert not (tmp_path / "g").exists()


BUSY = "import time\nt = time.time()\nwhile time.time() - t < 0.5:\n    pass\nprint('done')\n"


def _limited(
    limits: str, target: Path, out: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    diag = f"{sys.executable} -m diagkit.cli profile -q --out {out} {target}"
    return subprocess.run(
        ["bash", "-c", f"{limits}; exec {diag}"],
        cwd=target.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_a_memory_limit_that_refuses_every_thread(tmp_path, script, tmpdir_env):
    """A 4 GB thread stack under a 3 GB address-space limit: no thread of diag can start,
    while processes can; each thread's work is done another way or said to be missing."""
    private, env = tmpdir_env
    target = script("busy.py", BUSY)
    run = _limited("ulimit -s 4000000; ulimit -v 3000000", target, tmp_path / "r", env)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", run.stderr
    assert run.stdout == "done\n"
    report = DiagRun(run.returncode, run.stdout, run.stderr, tmp_path / "r").report
    assert report.outcome.kind == "exit" and report.outcome.wall_s >= 0.5
    assert not report.time.available
    assert "refused diag a thread" in report.time.unavailable_reason
    assert report.memory.peak_rss > 0 and "refused diag a thread" in report.memory.peak_source
    assert any(p.name == "diagkit" for p in report.environment.packages)
    assert channels_left(private) == []


@pytest.mark.slow
@pytest.mark.parametrize("kib", [120_000, 200_000, 220_000, 250_000, 260_000, 400_000])
def test_address_space_limits_never_give_a_thread_traceback(tmp_path, script, tmpdir_env, kib):
    """Which thread is refused first depends on the address-space layout, so several levels.
    (Far lower, diag itself cannot load: that is not a thread's failure.)"""
    private, env = tmpdir_env
    target = script("busy.py", BUSY)
    run = _limited(f"ulimit -v {kib}", target, tmp_path / "r", env)
    assert "can't start new thread" not in run.stderr, run.stderr
    if (tmp_path / "r" / "report.json").exists():
        assert run.returncode == 0
        report = DiagRun(run.returncode, run.stdout, run.stderr, tmp_path / "r").report
        if not report.time.available:
            assert report.time.unavailable_reason != "not sampled in this pass"
        assert channels_left(private) == []
