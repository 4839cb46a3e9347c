"""Kernel, copy, memset and API activity from CUPTI (the ``cupti-python`` package), in-process.

Activity records arrive in buffers CUPTI hands back when full or flushed; each
is turned into the same Op/ApiCall records an nsys export yields, so one
summary serves both. Timestamps are CUPTI's clock (nanoseconds); the range book
uses the same clock.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from diagkit.gpu.nsys.sqlite import COPY_KINDS
from diagkit.gpu.summary.ops import ApiCall, Op

MAX_RECORDS = 2_000_000
BUFFER_BYTES = 8 << 20
# CUpti_ActivityMemoryKind (differs from nsys's ENUM_CUDA_MEM_KIND numbering).
CUPTI_MEM_KINDS = {1: "pageable", 2: "pinned", 3: "device", 4: "array", 5: "managed"}


class CuptiCollector:
    def __init__(self) -> None:
        from cupti import cupti  # raises ImportError where cupti-python is not installed

        self.c = cupti
        kinds = cupti.ActivityKind
        self.kernel_kinds = {int(kinds.CONCURRENT_KERNEL)}
        if hasattr(kinds, "KERNEL"):
            self.kernel_kinds.add(int(kinds.KERNEL))
        self.memcpy_kind, self.memset_kind = int(kinds.MEMCPY), int(kinds.MEMSET)
        self.runtime_kind, self.driver_kind = int(kinds.RUNTIME), int(kinds.DRIVER)
        self.enable = [kinds.CONCURRENT_KERNEL, kinds.MEMCPY, kinds.MEMSET, kinds.RUNTIME]
        # CuPy launches its kernels through the driver API: without DRIVER records its
        # kernels could not be tied to ranges.
        self.enable.append(kinds.DRIVER)
        self.enabled: list[Any] = []
        self.ops: list[Op] = []
        self.api: list[ApiCall] = []
        self.dropped = 0
        self._names: dict[tuple[int, int], str] = {}
        self._lock = threading.Lock()
        self.start_ts = 0
        self.end_ts = 0

    def clock(self) -> int:
        return int(self.c.get_timestamp())

    def start(self) -> None:
        """Enable activity collection; raises (NotSupportedError and the like) where CUPTI can't."""
        self.c.activity_register_callbacks(self._requested, self._completed)
        try:
            for kind in self.enable:
                self.c.activity_enable(kind)
                self.enabled.append(kind)
        except Exception:
            self._disable()
            raise
        self.start_ts = self.clock()

    def finish(self) -> None:
        self.end_ts = self.clock()
        try:
            self.c.activity_flush_all(1)
        finally:
            self._disable()

    def _disable(self) -> None:
        for kind in reversed(self.enabled):
            with contextlib.suppress(Exception):
                self.c.activity_disable(kind)
        self.enabled.clear()

    def _requested(self) -> tuple[int, int]:
        return BUFFER_BYTES, 0

    def _completed(self, activities: list[Any]) -> None:
        # Runs on a CUPTI thread: an exception here would be lost, so nothing may escape.
        try:
            ops, api = [], []
            for a in activities:
                kind = int(a.kind)
                if kind in self.kernel_kinds:
                    ops.append(self._kernel(a))
                elif kind == self.memcpy_kind:
                    ops.append(self._memcpy(a))
                elif kind == self.memset_kind:
                    ops.append(
                        Op(
                            "memset",
                            a.start,
                            a.end,
                            "memset",
                            "",
                            int(a.bytes),
                            int(a.correlation_id),
                        )
                    )
                elif kind in (self.runtime_kind, self.driver_kind):
                    api.append(
                        ApiCall(
                            self._api_name(kind, int(a.cbid)),
                            int(a.start),
                            int(a.end),
                            int(a.thread_id),
                            int(a.correlation_id),
                        )
                    )
            with self._lock:
                room = MAX_RECORDS - len(self.ops) - len(self.api)
                if len(ops) + len(api) > room:
                    self.dropped += len(ops) + len(api) - max(room, 0)
                    ops, api = ops[: max(room, 0)], []
                self.ops.extend(ops)
                self.api.extend(api)
        except Exception:
            self.dropped += len(activities)

    def _kernel(self, a: Any) -> Op:
        grid = f"{a.grid_x},{a.grid_y},{a.grid_z}"
        block = f"{a.block_x},{a.block_y},{a.block_z}"
        name = str(a.name)
        return Op(
            "kernel",
            int(a.start),
            int(a.end),
            name,
            name,
            0,
            int(a.correlation_id),
            0,
            "",
            grid,
            block,
            int(getattr(a, "registers_per_thread", 0) or 0),
        )

    def _memcpy(self, a: Any) -> Op:
        name = COPY_KINDS.get(int(a.copy_kind), f"copy kind {int(a.copy_kind)}")
        to_host = name.endswith("-to-Host") and not name.startswith("Host")
        side = getattr(a, "dst_kind" if to_host else "src_kind", None)
        host = CUPTI_MEM_KINDS.get(int(side), "") if side is not None and "Host" in name else ""
        return Op(
            "memcpy",
            int(a.start),
            int(a.end),
            name,
            "",
            int(a.bytes),
            int(a.correlation_id),
            0,
            host,
        )

    def _api_name(self, kind: int, cbid: int) -> str:
        key = (kind, cbid)
        name = self._names.get(key)
        if name is None:
            name = "runtime" if kind == self.runtime_kind else "driver"
            name = f"{name} API call {cbid}"
            try:
                dom = self.c.CallbackDomain
                domain = dom.RUNTIME_API if kind == self.runtime_kind else dom.DRIVER_API
                name = str(self.c.get_callback_name(domain, cbid))
            except Exception:
                pass
            self._names[key] = name
        return name
