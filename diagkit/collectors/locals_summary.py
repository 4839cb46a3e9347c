"""Short, useful descriptions of the locals py-spy cannot show: arrays, long strings, bytes.

py-spy 0.4 prints a numpy array as ``<numpy.ndarray at 0x7f..>`` (no shape, no
dtype), a bytes object as ``<bytes at 0x7f..>``, and a string over its copy
limit as ``?``. Given the object's address (py-spy's JSON has it), the header
of the object in the target's memory says what it is: an array's shape and
dtype, a string's length. It is read after py-spy has let the process run
again, so every pointer is checked before it is believed, and anything that
does not check out keeps py-spy's text. Reading /proc/PID/mem needs the same
ptrace access py-spy just used, nothing more.
"""

from __future__ import annotations

import os
import re
import struct
from typing import Any

from diagkit.render.units import fmt_bytes

# CPython's object header and PyTypeObject field offsets (64-bit, stable since 3.8).
_OB_TYPE = 8
_OB_SIZE = 16
_TP_NAME = 24
_TP_BASE = 256
# numpy's PyArrayObject_fields and PyArray_Descr (unchanged from numpy 1.7 to 2.x).
_ARR_ND, _ARR_DIMS, _ARR_STRIDES, _ARR_DESCR, _ARR_FLAGS = 24, 32, 40, 56, 64
_DESCR_TYPE, _DESCR_BYTEORDER = 25, 26
_C_CONTIGUOUS, _F_CONTIGUOUS = 0x1, 0x2
MAX_ND = 64

_ADDRESSED = re.compile(r"^<([\w.]+) at 0x[0-9a-f]+>$")
# Type characters of the built-in dtypes (LP64 Linux sizes): name, item size.
_DTYPES: dict[str, tuple[str, int]] = {
    "?": ("bool", 1),
    "b": ("int8", 1),
    "B": ("uint8", 1),
    "h": ("int16", 2),
    "H": ("uint16", 2),
    "i": ("int32", 4),
    "I": ("uint32", 4),
    "l": ("int64", 8),
    "L": ("uint64", 8),
    "q": ("int64", 8),
    "Q": ("uint64", 8),
    "e": ("float16", 2),
    "f": ("float32", 4),
    "d": ("float64", 8),
    "g": ("float128", 16),
    "F": ("complex64", 8),
    "D": ("complex128", 16),
    "G": ("complex256", 32),
    "O": ("object", 8),
    "M": ("datetime64", 8),
    "m": ("timedelta64", 8),
}
# Flexible dtypes: the item size is per array; characters per item for U.
_FLEXIBLE = {"S": ("S", 1), "U": ("U", 4), "V": ("V", 1)}


class _Memory:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, addr: int, size: int) -> bytes:
        data = os.pread(self.fd, size, addr)
        if len(data) != size:
            raise OSError("short read")
        return data

    def u64(self, addr: int) -> int:
        return int(struct.unpack("<Q", self.read(addr, 8))[0])

    def i64(self, addr: int) -> int:
        return int(struct.unpack("<q", self.read(addr, 8))[0])

    def i32(self, addr: int) -> int:
        return int(struct.unpack("<i", self.read(addr, 4))[0])

    def cstr(self, addr: int, limit: int = 80) -> str:
        raw = self.read(addr, limit).split(b"\0", 1)[0]
        return raw.decode("ascii")


def summarise_locals(pid: int, threads: list[dict[str, Any]]) -> None:
    """Rewrite, in py-spy's JSON, the ``repr`` of locals that py-spy could only name."""
    mem: _Memory | None = None
    try:
        for thread in threads:
            for frame in thread.get("frames") or []:
                for var in frame.get("locals") or []:
                    text, addr = var.get("repr") or "", var.get("addr")
                    if not isinstance(addr, int) or not (text == "?" or _ADDRESSED.match(text)):
                        continue
                    if mem is None:
                        mem = _Memory(os.open(f"/proc/{pid}/mem", os.O_RDONLY))
                    better = describe(mem, addr)
                    if better:
                        var["repr"] = better
    except OSError:
        return  # no access, or the process ended: py-spy's text stays
    finally:
        if mem is not None:
            os.close(mem.fd)


def describe(mem: _Memory, addr: int) -> str | None:
    try:
        names = _type_chain(mem, mem.u64(addr + _OB_TYPE))
        if not names:
            return None
        if "numpy.ndarray" in names:
            return _array(mem, addr, names[0].rpartition(".")[2])
        if names[0] == "str":
            return f"<str of {mem.i64(addr + _OB_SIZE):,} characters>"
        if names[0] in ("bytes", "bytearray"):
            return f"<{names[0]} of {mem.i64(addr + _OB_SIZE):,} bytes>"
    except (OSError, UnicodeDecodeError, struct.error, OverflowError, ValueError):
        return None
    return None


def _type_chain(mem: _Memory, tp: int) -> list[str]:
    """Names of the type and its bases up to ``object``; [] if this is not a type object."""
    names: list[str] = []
    for _ in range(16):
        if tp == 0:
            break
        name = mem.cstr(mem.u64(tp + _TP_NAME))
        if not re.fullmatch(r"[\w.<>]+", name):
            return []
        names.append(name)
        if name == "object":
            return names
        tp = mem.u64(tp + _TP_BASE)
    return names if names and names[-1] == "object" else []


def _array(mem: _Memory, addr: int, type_name: str) -> str | None:
    nd = mem.i32(addr + _ARR_ND)
    if not 0 <= nd <= MAX_ND:
        return None
    dims = [mem.i64(mem.u64(addr + _ARR_DIMS) + 8 * i) for i in range(nd)]
    if any(d < 0 or d >= 1 << 48 for d in dims):
        return None
    descr = mem.u64(addr + _ARR_DESCR)
    char = chr(mem.read(descr + _DESCR_TYPE, 1)[0])
    order = chr(mem.read(descr + _DESCR_BYTEORDER, 1)[0])
    count = 1
    for d in dims:
        count *= d
    shape = "(" + ", ".join(map(str, dims)) + ("," if nd == 1 else "") + ")"
    if char in _DTYPES:
        dtype, itemsize = _DTYPES[char]
        dtype = (">" if order == ">" else "") + dtype
    elif char in _FLEXIBLE:
        letter, unit = _FLEXIBLE[char]
        itemsize = _itemsize_from_strides(mem, addr, nd)
        dtype = f"{letter}{itemsize // unit}" if itemsize else letter
    else:
        return None
    size = f", {fmt_bytes(count * itemsize)}" if itemsize else ""
    return f"<{type_name} shape={shape} dtype={dtype}{size}>"


def _itemsize_from_strides(mem: _Memory, addr: int, nd: int) -> int:
    # Where the item size sits in PyArray_Descr moved in numpy 2; the innermost stride
    # of a contiguous array is the item size in every version.
    flags = mem.i32(addr + _ARR_FLAGS) if nd else 0
    if flags & _C_CONTIGUOUS:
        axis = nd - 1
    elif flags & _F_CONTIGUOUS:
        axis = 0
    else:
        return 0
    return max(0, mem.i64(mem.u64(addr + _ARR_STRIDES) + 8 * axis))
