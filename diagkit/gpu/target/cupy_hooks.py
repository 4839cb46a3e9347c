"""CuPy-level instrumentation: CUDA events around ranges, counted transfers, memory pool peaks.

Used when CUPTI is not available. Copies are counted where CuPy's public entry
points make them (``asarray``/``array`` of host data, ``ndarray.get``/``set``,
``asnumpy``, and the scalar conversions ``item``/``float()``/``int()``/``bool()``
that read one value back); copies made inside CuPy or other libraries are not
seen. Every hook guards itself: an error disables that hook, never the program.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from collections.abc import Callable
from types import ModuleType
from typing import Any

from diagkit.gpu.summary.findings import SMALL_COPY_BYTES
from diagkit.gpu.summary.stats import RunningStats
from diagkit.gpu.target.host_ranges import Entry, RangeBook

HTOD, DTOH = "Host-to-Device", "Device-to-Host"
MAX_PENDING_EVENTS = 20_000
_DRAIN_EVERY = 512
_SCALAR_READS = ("item", "__float__", "__int__", "__bool__", "__complex__")


class CupyHooks:
    def __init__(self, book: RangeBook, clock: Callable[[], int], *, events: bool, transfers: bool):
        self.book, self.clock = book, clock
        self.want_events, self.want_transfers = events, transfers
        self.cupy: ModuleType | None = None
        self.notes: list[str] = []
        self.copies: dict[str, tuple[RunningStats, RunningStats]] = {}  # dir -> (ns, bytes)
        # range name -> direction -> [count, bytes, ns]; "" holds copies made with no range open
        self.range_copies: dict[str, dict[str, list[int]]] = defaultdict(
            lambda: defaultdict(lambda: [0, 0, 0])
        )
        self.small: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # innermost -> [n, bytes]
        self.spans: dict[str, RunningStats] = {}
        self.pool_used_peak = self.pool_total_peak = self.pool_samples = 0
        self._pending: list[tuple[str, Any, Any]] = []
        self._ready = False
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- installation -------------------------------------------------------------------
    def install(self, cupy: ModuleType) -> None:
        self.cupy = cupy
        if self.want_events:
            self.book.on_open = self._open
        self.book.on_close = self._close
        if not self.want_transfers:
            return
        nd = cupy.ndarray
        htod = self._host_to_device
        for name in ("asarray", "array"):
            if hasattr(cupy, name):
                setattr(cupy, name, htod(getattr(cupy, name), nd))
        if hasattr(cupy, "asnumpy"):
            to_host = self._device_to_host(cupy.asnumpy, lambda a, *_, **__: _nbytes(a), nd)
            setattr(cupy, "asnumpy", to_host)  # noqa: B010 - cupy is typed as a module
        try:
            nd.get = self._device_to_host(nd.get, lambda self_, *_, **__: _nbytes(self_))
            nd.set = self._method_htod(nd.set)
            nd.tolist = self._device_to_host(nd.tolist, lambda self_, *_, **__: _nbytes(self_))
            for attr in _SCALAR_READS:
                if hasattr(nd, attr):
                    fn = getattr(nd, attr)
                    setattr(nd, attr, self._device_to_host(fn, lambda s, *_, **__: s.itemsize))
        except (TypeError, AttributeError) as exc:
            self.notes.append(
                f"cupy.ndarray methods could not be wrapped ({exc}): copies through "
                ".get(), .set() and scalar reads are not counted."
            )

    # -- transfers ----------------------------------------------------------------------
    def _busy(self) -> bool:
        return getattr(self._local, "busy", False)

    def _host_to_device(self, fn: Callable[..., Any], nd: type) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(obj: Any, *args: Any, **kwargs: Any) -> Any:
            if self._busy() or isinstance(obj, nd) or hasattr(obj, "__cuda_array_interface__"):
                return fn(obj, *args, **kwargs)
            self._local.busy = True
            t0 = self.clock()
            try:
                out = fn(obj, *args, **kwargs)
            finally:
                self._local.busy = False
            self._record(HTOD, _nbytes(out), t0, self.clock())
            return out

        return wrapper

    def _method_htod(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(self_: Any, arr: Any, *args: Any, **kwargs: Any) -> Any:
            if self._busy():
                return fn(self_, arr, *args, **kwargs)
            self._local.busy = True
            t0 = self.clock()
            try:
                out = fn(self_, arr, *args, **kwargs)
            finally:
                self._local.busy = False
            self._record(HTOD, _nbytes(arr), t0, self.clock())
            return out

        return wrapper

    def _device_to_host(
        self, fn: Callable[..., Any], size: Callable[..., int], only: type | None = None
    ) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self._busy() or (only is not None and not (args and isinstance(args[0], only))):
                return fn(*args, **kwargs)
            self._local.busy = True
            t0 = self.clock()
            try:
                out = fn(*args, **kwargs)
            finally:
                self._local.busy = False
            try:
                nbytes = int(size(*args, **kwargs))
            except Exception:
                nbytes = 0
            self._record(DTOH, nbytes, t0, self.clock())
            return out

        return wrapper

    def _record(self, direction: str, nbytes: int, t0: int, t1: int) -> None:
        try:
            names = self.book.open_names()
            with self._lock:
                pair = self.copies.get(direction)
                if pair is None:
                    pair = self.copies[direction] = (RunningStats(), RunningStats())
                pair[0].add(t1 - t0)
                pair[1].add(nbytes)
                for name in set(names) or {""}:
                    acc = self.range_copies[name][direction]
                    acc[0] += 1
                    acc[1] += nbytes
                    acc[2] += t1 - t0
                if nbytes < SMALL_COPY_BYTES:
                    small = self.small[names[-1] if names else ""]
                    small[0] += 1
                    small[1] += nbytes
            self.sample_pool()
        except Exception as exc:
            self._fail("transfer counting", exc)

    # -- CUDA events around ranges ------------------------------------------------------
    def _ctx_ready(self) -> bool:
        # Never be the first to touch CUDA: even cuInit before a fork breaks a program
        # that forks workers before it uses the GPU. Memory in CuPy's pool means the
        # program has a context already, and asking the pool makes no CUDA call.
        if self._ready:
            return True
        try:
            self._ready = self.cupy.get_default_memory_pool().total_bytes() > 0  # type: ignore[union-attr]
        except Exception:
            self._ready = False
        return self._ready

    def _open(self, e: Entry) -> None:
        if self.cupy is None or not self.want_events or not self._ctx_ready():
            return
        try:
            ev = self.cupy.cuda.Event()
            ev.record()
            e.token = ev
        except Exception as exc:
            self._fail("CUDA events", exc)

    def _close(self, e: Entry, end: int) -> None:
        self.sample_pool()
        if e.token is None or not self.want_events:
            return
        try:
            ev = self.cupy.cuda.Event()  # type: ignore[union-attr]
            ev.record()
            with self._lock:
                self._pending.append((e.name, e.token, ev))
                n = len(self._pending)
            if n >= MAX_PENDING_EVENTS:
                self.drain(block=True)
            elif n % _DRAIN_EVERY == 0:
                self.drain(block=False)
        except Exception as exc:
            self._fail("CUDA events", exc)

    def drain(self, block: bool) -> None:
        """Turn finished event pairs into span times; with ``block``, wait for all of them."""
        if self.cupy is None:
            return
        with self._lock:
            pending, self._pending = self._pending, []
        keep = []
        elapsed = self.cupy.cuda.get_elapsed_time
        for name, start, end in pending:
            if block:
                end.synchronize()
            elif not end.done:
                keep.append((name, start, end))
                continue
            ns = int(elapsed(start, end) * 1e6)
            with self._lock:
                st = self.spans.get(name)
                if st is None:
                    st = self.spans[name] = RunningStats()
                st.add(ns)
        if keep:
            with self._lock:
                self._pending[:0] = keep

    # -- memory pool --------------------------------------------------------------------
    def sample_pool(self) -> None:
        if self.cupy is None:
            return
        try:
            pool = self.cupy.get_default_memory_pool()
            used, total = int(pool.used_bytes()), int(pool.total_bytes())
        except Exception:
            return
        self.pool_samples += 1
        self.pool_used_peak = max(self.pool_used_peak, used)
        self.pool_total_peak = max(self.pool_total_peak, total)

    def _fail(self, what: str, exc: BaseException) -> None:
        if what == "CUDA events":
            self.want_events = False
        else:
            self.want_transfers = False
        note = f"{what} stopped after an error: {type(exc).__name__}: {exc}"
        if note not in self.notes:
            self.notes.append(note)


def _nbytes(obj: Any) -> int:
    n = getattr(obj, "nbytes", None)
    return int(n) if isinstance(n, int) else 0
