"""``@pytest.mark.diag(max_seconds=..., max_peak_rss=..., max_compile_seconds=...)``: what one
test needs measured for its limits, in the test's own process and for the test alone.

The call's wall time; its peak RSS (VmHWM where the test raised the process's high-water
mark, which is exact, else the largest of 5 ms polls); Numba's compile time during it
(compiles on several threads at once count once); and, for the failure message, the
function the test's thread was in most, from a 100 Hz look at its frame. All of it runs
only while a marked test runs.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from diagkit._paths import is_own_file
from diagkit.collectors.rss import status_kb
from diagkit.errors import DiagError

POLL_S = 0.005
LOOK_S = 0.01
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.I)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS.update({"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40})
LIMITS = ("max_seconds", "max_peak_rss", "max_compile_seconds")
_LIB = tuple(
    os.path.realpath(p) + os.sep
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]}
)


def parse_size(value: Any) -> int:
    """Bytes from 500_000_000, "500 MB" (10^6) or "512 MiB" (2^20)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = _SIZE.match(str(value)) if isinstance(value, str) else None
    if not m:
        raise DiagError(f"max_peak_rss={value!r} is not a size: give bytes, '500 MB' or '512 MiB'")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "B").upper()])


@dataclass
class Limits:
    max_seconds: float | None = None
    max_peak_rss: int | None = None
    max_compile_seconds: float | None = None
    given_rss: Any = None  # as the marker wrote it

    @classmethod
    def from_marker(cls, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Limits:
        if args:
            raise DiagError("@pytest.mark.diag takes its limits by name, e.g. max_seconds=2")
        unknown = sorted(set(kwargs) - set(LIMITS))
        if unknown:
            raise DiagError(
                f"@pytest.mark.diag has no limit {unknown[0]!r} (it knows {', '.join(LIMITS)})"
            )
        out = cls()
        for name in ("max_seconds", "max_compile_seconds"):
            if name in kwargs:
                v = kwargs[name]
                if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                    raise DiagError(f"{name}={v!r} must be a number of seconds above 0")
                setattr(out, name, float(v))
        if "max_peak_rss" in kwargs:
            out.max_peak_rss = parse_size(kwargs["max_peak_rss"])
            out.given_rss = kwargs["max_peak_rss"]
        return out


class TestWatch:
    """Measures one test's call for its limits; ``stop()`` then ``exceeded()``."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.seconds = 0.0
        self.peak_rss = 0
        self.compile_s = 0.0
        self.looks: Counter[tuple[str, str, int]] = Counter()
        self._thread_id = threading.get_ident()
        self._done = threading.Event()
        self._folder = ""
        self._numba: Any = None

    def start(self) -> None:
        self._hwm0 = high_water_mark()
        if self.limits.max_compile_seconds is not None:
            self._start_compiles()
        self._poller = threading.Thread(target=self._poll, name="diag-test-limits", daemon=True)
        self._poller.start()
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        self.seconds = time.perf_counter() - self._t0
        self._done.set()
        self._poller.join()
        hwm = high_water_mark()
        if hwm > self._hwm0:
            self.peak_rss = max(self.peak_rss, hwm)  # the test set a new high-water mark: exact
        if self._numba is not None:
            self._stop_compiles()

    def exceeded(self) -> list[str]:
        """One phrase per limit the test went past."""
        lim, out = self.limits, []
        if lim.max_seconds is not None and self.seconds > lim.max_seconds:
            out.append(f"max_seconds={lim.max_seconds:g}: the test took {self.seconds:.3f} s")
        if lim.max_peak_rss is not None and self.peak_rss > lim.max_peak_rss:
            out.append(
                f"max_peak_rss={lim.given_rss!r} ({_mib(lim.max_peak_rss)}): its process's RSS "
                f"peaked at {_mib(self.peak_rss)}"
            )
        if lim.max_compile_seconds is not None and self.compile_s > lim.max_compile_seconds:
            out.append(
                f"max_compile_seconds={lim.max_compile_seconds:g}: Numba compiled for "
                f"{self.compile_s:.3f} s"
            )
        return out

    def hottest(self) -> str:
        """The function the test's thread was seen in most, as ``name (file:line, N%)``."""
        total = sum(self.looks.values())
        if not total:
            return "not seen (the test ran under 10 ms)"
        (name, file, line), n = self.looks.most_common(1)[0]
        return f"{name} ({os.path.basename(file)}:{line}, {n / total:.0%} of {total} looks)"

    def _poll(self) -> None:
        next_look = 0.0
        frames = sys._current_frames
        while not self._done.wait(POLL_S):
            self.peak_rss = max(self.peak_rss, _rss_bytes())
            now = time.perf_counter()
            if now >= next_look:
                next_look = now + LOOK_S
                frame = frames().get(self._thread_id)
                if frame is not None:
                    self.looks[_own_function(frame)] += 1

    def _start_compiles(self) -> None:
        from diagkit.target.channel import Channel
        from diagkit.target.numba_events import NumbaWatcher

        self._folder = tempfile.mkdtemp(prefix="diag-test-")
        self._channel = Channel(self._folder)
        self._numba = NumbaWatcher(self._channel)
        self._numba.install()

    def _stop_compiles(self) -> None:
        from diagkit.collectors.inproc_results import parse_events
        from diagkit.target.channel import read_events

        self._numba.uninstall()
        self._channel.close()
        jit = parse_events(read_events(self._folder), 0).jit
        self.compile_s = jit.compiling_s()
        shutil.rmtree(self._folder, ignore_errors=True)


def _own_function(frame: Any) -> tuple[str, str, int]:
    """The innermost frame of the test's own code (not the standard library's or a package's)."""
    f = frame
    while f is not None:
        file = f.f_code.co_filename
        lib = os.path.realpath(file).startswith(_LIB) or "site-packages" in file
        if not lib and not is_own_file(file):
            return f.f_code.co_qualname, file, f.f_lineno
        f = f.f_back
    return frame.f_code.co_qualname, frame.f_code.co_filename, frame.f_lineno


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes() -> int:
    # statm, one short line, for the 5 ms poll (status is ~50 lines to scan)
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def high_water_mark() -> int:
    """This process's peak RSS so far (VmHWM), in bytes."""
    return status_kb(os.getpid())[1] * 1024


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"
