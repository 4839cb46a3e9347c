"""diag's own work around a run: done while the program starts or after it ends, never beside it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

from diagkit.run.launch import Launch, ProfileOptions

# The program notes the monotonic clock (one clock for every process) at its first line and
# its last: diag's work is compared against that span.
SPAN = """
import pathlib, sys, time
first = time.monotonic_ns()
time.sleep(0.4)
pathlib.Path(sys.argv[1]).write_text(f"{first} {time.monotonic_ns()}")
"""


def _span(path) -> tuple[int, int]:
    first, last = path.read_text().split()
    return int(first), int(last)


def test_the_program_is_let_go_between_two_steps_and_the_steps_left_wait(tmp_path, script):
    target = script("span.py", SPAN)
    marks = tmp_path / "span"
    opts = ProfileOptions(kind="script", target=str(target), args=[str(marks)], out_dir=tmp_path)
    launch = Launch(opts)
    ran: list[tuple[int, int]] = []

    def step() -> None:
        start = time.monotonic_ns()
        time.sleep(0.02)
        ran.append((start, time.monotonic_ns()))

    def failing() -> None:
        raise ValueError("done again where it is needed")

    try:
        # 12 s of steps, more than the start and py-spy's attach take; one fails, the next runs.
        launch.overlap([failing, *[step] * 600])
        t0 = launch.started()
        assert launch.child.exited.wait(30)
    finally:
        launch.child.stop()
        launch.sampler.stop()
        shutil.rmtree(launch.channel, ignore_errors=True)
    first, _ = _span(marks)
    assert ran, "the steps begin at once"
    assert len(ran) < 600, "the program does not wait for steps not begun"
    assert ran[-1][1] <= t0 <= first, "the program is let go after the step it came during"


DRIVER = """
import importlib.metadata as md, json, platform, sys, time
from diagkit.cli import main

calls = []

def record(owner, name):
    original = getattr(owner, name)
    def recorded(*args, **kwargs):
        start = time.monotonic_ns()
        try:
            return original(*args, **kwargs)
        finally:
            calls.append((name, start, time.monotonic_ns()))
    setattr(owner, name, recorded)

# What building the environment section reads: every installed package's metadata files,
# and the platform (it runs uname).
record(md.PathDistribution, "read_text")
record(platform, "platform")
status = main(sys.argv[1:])
print(json.dumps({"status": status, "calls": calls, "rich": "rich" in sys.modules}))
"""


def _driven(tmp_path, *args: str) -> dict:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.run(
        [sys.executable, str(driver), "profile", "--out", str(tmp_path / "report"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_environment_section_is_read_before_the_first_line_or_after_the_end(tmp_path, script):
    target = script("span.py", SPAN)
    marks = tmp_path / "span"
    seen = _driven(tmp_path, "-q", str(target), str(marks))
    first, last = _span(marks)
    assert {name for name, _, _ in seen["calls"]} == {"read_text", "platform"}
    beside = [(name, s, e) for name, s, e in seen["calls"] if s < last and e > first]
    assert beside == [], "read while the program ran"
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["environment"]["platform"] and report["environment"]["packages"]


def test_a_quiet_profile_loads_no_terminal_library(tmp_path, script):
    target = script("quiet.py", "print('hello')\n")
    seen = _driven(tmp_path, "-q", str(target))
    assert seen["status"] == 0 and seen["rich"] is False
    assert (tmp_path / "report" / "report.html").exists()


def test_diag_exits_without_collecting_what_it_made():
    """The interpreter's last collections would walk every object of the run (~10 ms)."""
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print(gc.get_freeze_count()))\n"  # runs after diag's own
        "import diagkit.cli\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 0
