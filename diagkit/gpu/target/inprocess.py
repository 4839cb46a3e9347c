"""The GPU collector that runs inside the target when Nsight Systems is not used.

The bootstrap calls ``start(path)`` before the program runs (after it has
installed its own ``diagkit._runtime.recorder``, which keeps working) and
``finish()`` at exit (also registered with atexit; it runs once). ``finish``
writes ``{"format", "t0_ns", "section"}`` as JSON to ``path``; the launcher
reads it back with ``read_result``. ``start_from_env`` does the same, driven by
DIAGKIT_GPU_OUT (the path) and DIAGKIT_GPU_MODE (auto | cupti | cupy | host).

Sources, best first: CUPTI activity records (``cupti-python`` and a driver),
CuPy-level instrumentation, and, with no GPU, host timings of ranges only.
Importing this module loads nothing heavy; nothing is installed before start().
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from diagkit import _runtime
from diagkit.gpu.target import import_hook
from diagkit.gpu.target.cupy_hooks import CupyHooks
from diagkit.gpu.target.host_ranges import DiagkitRanges, RangeBook, patch_cupy_nvtx, patch_nvtx
from diagkit.gpu.target.sections import Gathered, build_section
from diagkit.model.gpu import GpuSection
from diagkit.model.serde import from_dict, to_dict

if TYPE_CHECKING:
    from diagkit.gpu.target.cupti import CuptiCollector

ENV_OUT = "DIAGKIT_GPU_OUT"
ENV_MODE = "DIAGKIT_GPU_MODE"
FORMAT = "diagkit-gpu/1"
MODES = ("auto", "cupti", "cupy", "host")

_active: _Collector | None = None
_lock = threading.Lock()


def gpu_visible() -> tuple[bool, str]:
    """Whether an NVIDIA GPU looks usable, judged without initializing CUDA."""
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None and cvd.strip() in ("", "-1"):
        return False, f"CUDA_VISIBLE_DEVICES={cvd!r} hides every GPU"
    for path in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/proc/driver/nvidia/version"):
        if os.path.exists(path):
            return True, f"{path} exists"
    return False, "no NVIDIA driver or GPU device on this machine (no /dev/nvidia*)"


class _Collector:
    def __init__(self, out: Path, mode: str) -> None:
        self.out = out
        self.pid = os.getpid()
        self.t0_ns = time.monotonic_ns()
        self.notes: list[str] = []
        self.gpu_found, self.gpu_why = gpu_visible()
        self.cupti: CuptiCollector | None = None
        if mode == "auto":
            mode = "cupti" if self.gpu_found else "host"
        if mode == "cupti":
            mode = self._start_cupti()
        self.mode = mode
        clock = self.cupti.clock if self.cupti is not None else time.monotonic_ns
        self.book = RangeBook(clock, keep_events=self.cupti is not None)
        on_gpu = mode in ("cupti", "cupy")
        self.cupy = CupyHooks(self.book, clock, events=mode == "cupy", transfers=mode == "cupy")
        self.patched: list[str] = ["diagkit.range"]  # range APIs being timed
        self._inner_recorder = _runtime.recorder
        self._recorder = DiagkitRanges(self.book, self._inner_recorder)
        _runtime.recorder = self._recorder
        hooks = {"nvtx": self._on_nvtx, "cupy": self._on_cupy if on_gpu else self._on_cupy_nvtx}
        self._uninstall = import_hook.when_imported(hooks, self._hook_failed)
        self.start_clock = clock()

    def _start_cupti(self) -> str:
        fallback = "cupy" if self.gpu_found else "host"
        try:
            from diagkit.gpu.target.cupti import CuptiCollector

            col = CuptiCollector()
            col.start()
        except ImportError as exc:
            self.notes.append(f"CUPTI not used: cupti-python is not installed ({exc.name}).")
            return fallback
        except Exception as exc:
            self.notes.append(f"CUPTI not used: {type(exc).__name__}: {exc}".strip())
            return fallback
        self.cupti = col
        return "cupti"

    def _on_nvtx(self, mod: ModuleType) -> None:
        patch_nvtx(mod, self.book)
        self.patched.append("nvtx")

    def _on_cupy_nvtx(self, mod: ModuleType) -> None:
        nv = getattr(getattr(mod, "cuda", None), "nvtx", None)
        if nv is not None and hasattr(nv, "RangePush"):
            patch_cupy_nvtx(nv, self.book)
            self.patched.append("cupy.cuda.nvtx")

    def _on_cupy(self, mod: ModuleType) -> None:
        self._on_cupy_nvtx(mod)
        self.cupy.install(mod)
        # CuPy registered its own exit handlers while importing: ours must run before
        # them (atexit is last in, first out), while the device is still in order.
        atexit.unregister(finish)
        atexit.register(finish)

    def _hook_failed(self, name: str, exc: BaseException) -> None:
        self.notes.append(f"could not instrument {name}: {type(exc).__name__}: {exc}")

    def finish(self) -> GpuSection:
        self._uninstall()
        if _runtime.recorder is self._recorder:
            _runtime.recorder = self._inner_recorder
        end = self.book.clock()
        if self.cupti is not None:
            try:
                self.cupti.finish()
            except Exception as exc:
                self.notes.append(f"CUPTI flush failed: {type(exc).__name__}: {exc}")
        try:
            self.cupy.drain(block=True)
        except Exception as exc:
            self.notes.append(f"GPU in an error state at exit ({type(exc).__name__}: {exc}).")
        self.cupy.sample_pool()
        return build_section(
            Gathered(
                mode=self.mode,
                book=self.book,
                cupy=self.cupy,
                cupti=self.cupti,
                start_clock=self.start_clock,
                end_clock=end,
                patched=self.patched,
                notes=self.notes,
                gpu_found=self.gpu_found,
                gpu_why=self.gpu_why,
            )
        )

    def write(self, section: GpuSection) -> None:
        from diagkit.model.store import write_atomic

        payload = {"format": FORMAT, "t0_ns": self.t0_ns, "section": to_dict(section)}
        write_atomic(self.out, json.dumps(payload, allow_nan=False))


def start(output_path: str | os.PathLike[str], mode: str = "auto") -> None:
    """Install the collector in this process; a second call while one runs does nothing."""
    global _active
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    with _lock:
        if _active is not None:
            return
        _active = _Collector(Path(output_path), mode)
    atexit.unregister(finish)  # the CuPy hook may have registered it already
    atexit.register(finish)


def start_from_env() -> bool:
    """Start when DIAGKIT_GPU_OUT is set (and drop it, so child processes don't write there)."""
    out = os.environ.pop(ENV_OUT, None)
    if not out:
        return False
    mode = os.environ.pop(ENV_MODE, "auto") or "auto"
    start(out, mode if mode in MODES else "auto")
    return True


def collector(channel: object) -> Callable[[], None]:
    """Entry point for the bootstrap's extra collectors (DIAGKIT_COLLECTORS)."""
    start_from_env()
    return finish


def finish() -> None:
    """Stop collecting and write the result; safe to call more than once, and from atexit."""
    global _active
    with _lock:
        col, _active = _active, None
    if col is None or col.pid != os.getpid():
        return  # a forked child must not overwrite the parent's result
    try:
        section = col.finish()
    except Exception as exc:  # the program's exit must not change because of us
        section = GpuSection(
            available=False,
            unavailable_reason=f"the GPU collector failed at exit: {type(exc).__name__}: {exc}",
            source=col.mode,
            notes=col.notes,
        )
    try:
        col.write(section)
    except Exception as exc:
        print(f"diag: could not write GPU results to {col.out}: {exc}", file=sys.stderr)


def read_result(path: str | os.PathLike[str], t0_ns: int | None = None) -> GpuSection:
    """The section the collector wrote, with times moved to count from ``t0_ns`` when given.

    A missing or unreadable file yields an unavailable section that says why.
    """
    p = Path(path)
    try:
        payload = json.loads(p.read_text(encoding="utf-8"))
        if payload.get("format") != FORMAT:
            raise ValueError(f"unknown format {payload.get('format')!r}")
        sec = from_dict(GpuSection, payload["section"])
    except FileNotFoundError:
        return GpuSection(
            available=False,
            unavailable_reason=(
                "the in-process GPU collector wrote nothing (the program was killed or "
                "exited through os._exit before it could)"
            ),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return GpuSection(
            available=False, unavailable_reason=f"unreadable GPU results in {p}: {exc}"
        )
    if t0_ns is not None and sec.idle is not None:
        shift = (int(payload.get("t0_ns", t0_ns)) - t0_ns) / 1e9
        sec.idle.first_activity_t += shift
        sec.idle.last_activity_t += shift
        for g in sec.idle.gaps:
            g.start_t += shift
            g.end_t += shift
    return sec
