"""Host timings of NVTX, CuPy and diagkit ranges, recorded inside the target.

Without an NVTX tool attached, the ``nvtx`` package (0.2.12 and later) turns
every call into a no-op, so its ranges can only be timed by taking its entry
points over: ``annotate``, ``push_range``/``pop_range``, ``start_range``/
``end_range`` and ``get_domain``. The originals are still called, so a tool
that is attached sees the same ranges. CuPy's ``cupy.cuda.nvtx.RangePush``/
``RangePushC``/``RangePop`` (used by ``cupyx.profiler.time_range``) and
``diagkit.range`` (through the recorder hook) feed the same book.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from diagkit.gpu.summary.ops import HostRange
from diagkit.gpu.summary.stats import RunningStats
from diagkit.model.kinds import RangeStyle

MAX_EVENTS = 1_000_000


class Entry:
    __slots__ = ("domain", "name", "start", "style", "thread", "token")

    def __init__(self, name: str, domain: str, style: RangeStyle, start: int, thread: int) -> None:
        self.name, self.domain, self.style = name, domain, style
        self.start, self.thread = start, thread
        self.token: Any = None  # what a listener keeps with the range (CUDA events)


def full_name(message: object, domain: str) -> str:
    msg = "" if message is None else str(getattr(message, "string", message))
    return f"{domain}:{msg}" if domain else msg


class RangeBook:
    """Open ranges per thread; stats of every closed range; single events up to a cap."""

    def __init__(self, clock: Callable[[], int], keep_events: bool) -> None:
        self.clock = clock
        self.keep_events = keep_events
        self.events: list[HostRange] = []
        self.events_dropped = 0
        self.marks = 0
        self.stats: dict[tuple[str, RangeStyle, str], RunningStats] = {}  # (name, style, domain)
        self.on_open: Callable[[Entry], None] | None = None
        self.on_close: Callable[[Entry, int], None] | None = None
        self.thread_alias: dict[int, int] = {}  # other ids of a thread (native, 32-bit) -> ident
        self._local = threading.local()
        self._lock = threading.Lock()
        self._process: dict[int, Entry] = {}
        self._ids = itertools.count(1)

    def stack(self) -> list[Entry]:
        st = self._local.__dict__.get("stack")
        if st is None:
            st = self._local.stack = []
            ident = threading.get_ident()
            with self._lock:
                self.thread_alias[threading.get_native_id()] = ident
                self.thread_alias[ident & 0xFFFFFFFF] = ident
        return st

    def push(self, name: str, domain: str = "") -> None:
        e = Entry(name, domain, "PushPop", self.clock(), threading.get_ident())
        self.stack().append(e)
        if self.on_open is not None:
            self.on_open(e)

    def pop(self, domain: str = "") -> None:
        end = self.clock()
        st = self.stack()
        for i in range(len(st) - 1, -1, -1):
            if st[i].domain == domain:
                self._close(st.pop(i), end)
                return

    def start(self, name: str, domain: str = "") -> int:
        e = Entry(name, domain, "StartEnd", self.clock(), threading.get_ident())
        rid = next(self._ids)
        with self._lock:
            self._process[rid] = e
        if self.on_open is not None:
            self.on_open(e)
        return rid

    def end(self, rid: int) -> None:
        end = self.clock()
        with self._lock:
            e = self._process.pop(rid, None)
        if e is not None:
            self._close(e, end)

    def _close(self, e: Entry, end: int) -> None:
        if self.on_close is not None:
            self.on_close(e, end)
        key = (e.name, e.style, e.domain)
        with self._lock:
            st = self.stats.get(key)
            if st is None:
                st = self.stats[key] = RunningStats()
            st.add(end - e.start)
            if self.keep_events:
                if len(self.events) < MAX_EVENTS:
                    self.events.append(HostRange(e.name, e.style, e.domain, e.start, end, e.thread))
                else:
                    self.events_dropped += 1

    def open_names(self) -> list[str]:
        """Names of the ranges open on this thread, outermost first."""
        return [e.name for e in self.stack()]


class _Token:
    """What our ``start_range`` hands out: our id plus whatever the original returned."""

    __slots__ = ("orig", "rid")

    def __init__(self, rid: int, orig: Any) -> None:
        self.rid, self.orig = rid, orig


def patch_nvtx(mod: ModuleType, book: RangeBook) -> list[str]:
    """Take over the nvtx package's range entry points; returns the names replaced."""
    inner = getattr(mod, "nvtx", None)  # nvtx.nvtx, where the functions are defined
    o_annotate, o_push, o_pop = mod.annotate, mod.push_range, mod.pop_range
    o_start, o_end, o_get_domain = mod.start_range, mod.end_range, mod.get_domain
    o_mark = mod.mark

    class annotate:
        __doc__ = o_annotate.__doc__

        def __init__(
            self,
            message: Any = None,
            color: Any = None,
            domain: Any = None,
            category: Any = None,
            payload: Any = None,
        ) -> None:
            self._orig = o_annotate(message, color, domain, category, payload)
            self._message, self._domain = message, domain or ""

        def __enter__(self) -> annotate:
            book.push(full_name(self._message, self._domain), self._domain)
            self._orig.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self._orig.__exit__(*exc)
            book.pop(self._domain)

        def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
            name = full_name(self._message or func.__name__, self._domain)
            domain = self._domain
            wrapped = self._orig(func)

            @functools.wraps(func)
            def inner_(*args: Any, **kwargs: Any) -> Any:
                book.push(name, domain)
                try:
                    return wrapped(*args, **kwargs)
                finally:
                    book.pop(domain)

            return inner_

    def push_range(
        message: Any = None,
        color: Any = "blue",
        domain: Any = None,
        category: Any = None,
        payload: Any = None,
    ) -> None:
        book.push(full_name(message, domain or ""), domain or "")
        o_push(message, color, domain, category, payload)

    def pop_range(domain: Any = None) -> None:
        o_pop(domain)
        book.pop(domain or "")

    def start_range(
        message: Any = None,
        color: Any = None,
        domain: Any = None,
        category: Any = None,
        payload: Any = None,
    ) -> _Token:
        rid = book.start(full_name(message, domain or ""), domain or "")
        return _Token(rid, o_start(message, color, domain, category, payload))

    def end_range(range_id: Any) -> None:
        if isinstance(range_id, _Token):
            book.end(range_id.rid)
            if range_id.orig is not None:
                o_end(range_id.orig)
        else:
            o_end(range_id)

    def mark(*args: Any, **kwargs: Any) -> None:
        book.marks += 1
        o_mark(*args, **kwargs)

    proxies: dict[Any, _DomainProxy] = {}

    def get_domain(name: Any = None) -> _DomainProxy:
        # One proxy per name, as nvtx caches its domains: a range started through one
        # get_domain() result may be ended through another.
        proxy = proxies.get(name)
        if proxy is None:
            proxy = proxies[name] = _DomainProxy(o_get_domain(name), name or "", book)
        return proxy

    replaced = {
        "annotate": annotate,
        "push_range": push_range,
        "pop_range": pop_range,
        "start_range": start_range,
        "end_range": end_range,
        "get_domain": get_domain,
        "mark": mark,
    }
    for attr, fn in replaced.items():
        setattr(mod, attr, fn)
        # nvtx.nvtx's own annotate/push_range call get_domain there: keep the original for it.
        if inner is not None and attr != "get_domain" and hasattr(inner, attr):
            setattr(inner, attr, fn)
    return sorted(replaced)


class _Attrs:
    __slots__ = ("message", "real")

    def __init__(self, real: Any, message: object) -> None:
        self.real, self.message = real, message


class _DomainProxy:
    """A domain (real or the no-op one) whose range calls are also timed."""

    def __init__(self, real: Any, name: str, book: RangeBook) -> None:
        self._real, self._name, self._book = real, name, book
        self._ids: dict[int, int] = {}

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._real, attr)

    def get_event_attributes(
        self, message: Any = None, color: Any = None, category: Any = None, payload: Any = None
    ) -> _Attrs:
        return _Attrs(self._real.get_event_attributes(message, color, category, payload), message)

    def _split(self, attributes: Any, kwargs: dict[str, Any]) -> tuple[Any, str]:
        if isinstance(attributes, _Attrs):
            msg = kwargs.get("message", attributes.message)
            return attributes.real, full_name(msg, self._name)
        msg = kwargs.get("message", getattr(attributes, "message", None))
        return attributes, full_name(msg, self._name)

    def push_range(self, attributes: Any = None, **kwargs: Any) -> None:
        real, name = self._split(attributes, kwargs)
        self._book.push(name, self._name)
        self._real.push_range(real, **kwargs)

    def pop_range(self) -> None:
        self._real.pop_range()
        self._book.pop(self._name)

    def start_range(self, attributes: Any = None, **kwargs: Any) -> int:
        real, name = self._split(attributes, kwargs)
        rid = self._book.start(name, self._name)
        orig = self._real.start_range(real, **kwargs)
        # The no-op domain answers 0 every time: hand out our own ids then.
        key = orig if orig else -rid
        self._ids[key] = rid
        return key

    def end_range(self, range_id: int) -> None:
        rid = self._ids.pop(range_id, None)
        if rid is not None:
            self._book.end(rid)
        if range_id > 0:
            self._real.end_range(range_id)

    def mark(self, attributes: Any = None, **kwargs: Any) -> None:
        self._book.marks += 1
        real, _ = self._split(attributes, kwargs)
        self._real.mark(real, **kwargs)


def patch_cupy_nvtx(cuda_nvtx: ModuleType, book: RangeBook) -> None:
    """CuPy's own NVTX calls, which ``cupyx.profiler.time_range`` looks up at each use."""
    o_push, o_pushc, o_pop = cuda_nvtx.RangePush, cuda_nvtx.RangePushC, cuda_nvtx.RangePop

    def RangePush(message: Any, id_color: int = -1) -> None:
        book.push(full_name(message, ""))
        o_push(message, id_color)

    def RangePushC(message: Any, argb_color: int = 0) -> None:
        book.push(full_name(message, ""))
        o_pushc(message, argb_color)

    def RangePop() -> None:
        o_pop()
        book.pop("")

    for name, fn in (("RangePush", RangePush), ("RangePushC", RangePushC), ("RangePop", RangePop)):
        setattr(cuda_nvtx, name, fn)


class DiagkitRanges:
    """Sits in ``diagkit._runtime.recorder`` and passes every call on to the one it replaced."""

    DOMAIN = "diagkit"

    def __init__(self, book: RangeBook, inner: Any) -> None:
        self.book, self.inner = book, inner

    def push(self, name: str) -> None:
        if self.inner is not None:
            self.inner.push(name)
        self.book.push(full_name(name, self.DOMAIN), self.DOMAIN)

    def pop(self, name: str) -> None:
        self.book.pop(self.DOMAIN)
        if self.inner is not None:
            self.inner.pop(name)
