"""Where diag's frames end in a stack.

The stacks are shaped as py-spy writes them (``--subprocesses`` puts one
``process N:"command"`` frame per process above each stack).
"""

from __future__ import annotations

import os

import pytest

from diagkit._paths import BOOTSTRAP_MAIN, TARGET_DIR
from diagkit.collectors.sampled_time import program_frames, time_section

BOOT = os.path.join(TARGET_DIR, "bootstrap.py")
BOOT_MAIN = BOOTSTRAP_MAIN
USER = "/u/est.py"


def fr(name: str, file: str, line: int = 1) -> dict:
    return {"name": name, "file": file, "line": line}


PROC = fr('process 41:"python -m diagkit.target.bootstrap script est.py"', "", 0)
CHILD = fr('process 42:"python -m diagkit.target.bootstrap script est.py"', "", 0)
PREFIX = [fr("<module>", BOOT_MAIN), fr("main", BOOT), fr("run_program", BOOT)]


def names(frames: list[dict]) -> list[str]:
    return [f["name"] for f in frames]


def test_process_frames_and_the_bootstrap_are_cut_from_every_process():
    program = [fr("<module>", USER), fr("fit", USER, 12)]
    assert names(program_frames([PROC, *PREFIX, *program])) == ["<module>", "fit"]
    # A worker's stack sits under its parent's process frame and its own.
    assert names(program_frames([PROC, CHILD, *PREFIX, *program])) == ["<module>", "fit"]
    thread = [fr("Thread._bootstrap", "/usr/lib/python3.11/threading.py"), fr("work", USER)]
    assert names(program_frames([PROC, *thread])) == ["Thread._bootstrap", "work"]
    assert program_frames([PROC]) == []  # a thread with no Python frame: nothing of anyone's
    # diag's exit work, in any process: the bootstrap without run_program, a collector's flush.
    assert program_frames([PROC, fr("<module>", BOOT_MAIN), fr("_Run.finish", BOOT)]) == []
    collector = fr("RangeRecorder.finish", os.path.join(TARGET_DIR, "ranges.py"))
    assert program_frames([PROC, collector]) == []


def test_run_module_and_native_frames_between_diag_and_the_program_are_diags():
    runpy = [fr("run_module", "<frozen runpy>"), fr("_run_code", "<frozen runpy>")]
    native = [fr("_start", "/usr/bin/python3.11", 0), fr("Py_RunMain", "libpython3.11.so", 0)]
    exec_ = fr("builtin_exec", "libpython3.11.so", 0)
    stack = [*native, *PREFIX, *runpy, exec_, fr("<module>", "/u/pkg/__main__.py"), fr("fit", USER)]
    assert names(program_frames(stack)) == ["<module>", "fit"]
    # The program's own native calls stay.
    deep = [*PREFIX, fr("<module>", USER), fr("dgemm_", "libblas.so", 0)]
    assert names(program_frames(deep)) == ["<module>", "dgemm_"]


def test_python_dash_m_without_diag_keeps_the_program():
    """An attached ``python -m pkg``: runpy is the interpreter's, the rest is the program."""
    runpy = [fr("_run_module_as_main", "<frozen runpy>"), fr("_run_code", "<frozen runpy>")]
    stack = [*runpy, fr("<module>", "/u/pkg/__main__.py"), fr("fit", USER)]
    assert names(program_frames(stack)) == ["<module>", "fit"]


def test_the_function_table_of_a_subprocesses_run_has_no_process_or_diag_rows():
    frames = [
        PROC,
        CHILD,
        *PREFIX,
        fr("<module>", USER),
        fr("burn", USER, 3),
        fr("_Run.finish", BOOT),
    ]
    doc = {
        "shared": {"frames": frames},
        "profiles": [
            # parent: 2 samples in <module>, 3 with no Python frame; worker: 5 in burn
            {
                "name": 'Process 41 Thread 41 "MainThread"',
                "samples": [[0, 2, 3, 4, 5]] * 2 + [[0]] * 3,
            },
            {"name": 'Process 42 Thread 42 "MainThread"', "samples": [[0, 1, 2, 3, 4, 5, 6]] * 5},
            {"name": 'Process 41 Thread 41 "MainThread"', "samples": [[0, 2, 7]] * 4},
        ],
    }
    sec = time_section(doc, rate=100, sampled_s=0.2, source="t")
    assert sec.samples == 7
    rows = {f.name: f for f in sec.functions}
    assert set(rows) == {"<module>", "burn"}
    assert rows["burn"].own_share == pytest.approx(5 / 7) and rows["<module>"].total_samples == 7
    assert [t.thread for t in sec.threads][:2] == [
        'Process 41 Thread 41 "MainThread"',
        'Process 42 Thread 42 "MainThread"',
    ]
