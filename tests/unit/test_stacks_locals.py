"""Arrays, long strings and bytes described from an object's header in memory.

Read from this very process (/proc/self/mem, the objects' ids as addresses):
the same code path as reading a target, on objects whose truth is known.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from diagkit.collectors.locals_summary import _Memory, describe, summarise_locals


@pytest.fixture
def mem():
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        yield _Memory(fd)
    finally:
        os.close(fd)


class Sub(np.ndarray):
    pass


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: np.zeros((300, 40), dtype=np.float32),
            "<ndarray shape=(300, 40) dtype=float32, 46.9 KiB>",
        ),
        (lambda: np.arange(5), "<ndarray shape=(5,) dtype=int64, 40 B>"),
        (lambda: np.array(2.5), "<ndarray shape=() dtype=float64, 8 B>"),
        (lambda: np.ones((2, 3), dtype=">f8"), "<ndarray shape=(2, 3) dtype=>float64, 48 B>"),
        (lambda: np.zeros(4, dtype="U7"), "<ndarray shape=(4,) dtype=U7, 112 B>"),
        (
            lambda: np.asfortranarray(np.zeros((2, 3), dtype="S5")),
            "<ndarray shape=(2, 3) dtype=S5, 30 B>",
        ),
        (
            lambda: np.zeros((3, 4), dtype=np.complex64).view(Sub),
            "<Sub shape=(3, 4) dtype=complex64, 96 B>",
        ),
        (lambda: np.zeros((6, 6))[::2, ::3], "<ndarray shape=(3, 2) dtype=float64, 48 B>"),
        (lambda: "é" * 5000, "<str of 5,000 characters>"),
        (lambda: b"q" * 400, "<bytes of 400 bytes>"),
        (lambda: {"a": 1}, None),
        (lambda: 3.5, None),
    ],
)
def test_describe_reads_what_the_object_is(mem, make, expected):
    obj = make()
    assert describe(mem, id(obj)) == expected


def test_garbage_addresses_are_left_alone(mem):
    junk = bytearray(b"\xff" * 64)  # readable memory that holds no object header
    assert describe(mem, id(junk) + 32) is None
    assert describe(mem, 8) is None  # unmapped


def test_summarise_rewrites_only_what_py_spy_could_not_show():
    arr = np.zeros((2, 2))
    frames = [
        {
            "locals": [
                {"name": "arr", "addr": id(arr), "repr": f"<numpy.ndarray at {id(arr):#x}>"},
                {"name": "n", "addr": id(3), "repr": "3"},
                {
                    "name": "d",
                    "addr": id(frames_holder),
                    "repr": f"<dict at {id(frames_holder):#x}>",
                },
            ]
        }
    ]
    summarise_locals(os.getpid(), [{"frames": frames}])
    got = {v["name"]: v["repr"] for v in frames[0]["locals"]}
    assert got["arr"] == "<ndarray shape=(2, 2) dtype=float64, 32 B>"
    assert got["n"] == "3"
    assert got["d"].startswith("<dict at 0x")  # not an array, string or bytes: kept


frames_holder: dict[str, int] = {}
