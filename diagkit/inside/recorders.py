"""The in-process recorders of a launched run, put into a process that profiles itself and
taken out again: warnings, Numba compiles, GC pauses, log records and diagkit.range stages."""

from __future__ import annotations

from diagkit import _runtime
from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind
from diagkit.target.gc_watch import GcWatcher
from diagkit.target.log_records import LogRecorder
from diagkit.target.numba_events import NumbaWatcher
from diagkit.target.ranges import RangeRecorder
from diagkit.target.warnings_counter import WarningCounter


class Recorders:
    def __init__(self, channel: Channel, log_level: int = 20) -> None:
        self.channel = channel
        self.ranges = RangeRecorder(channel)
        self.warnings = WarningCounter(channel)
        self.numba = NumbaWatcher(channel)
        self.gc = GcWatcher(channel)
        self.logs = LogRecorder(channel, log_level)
        self._previous: _runtime.RangeRecorder | None = None
        self._installed = False

    def install(self) -> None:
        self.warnings.install()
        self.numba.install()
        self.gc.install()
        self.logs.install()
        self._previous, _runtime.recorder = _runtime.recorder, self.ranges
        self._installed = True

    def remove(self) -> None:
        """Flush every recorder to the channel and leave the process as it was."""
        if not self._installed:
            return
        self._installed = False
        if _runtime.recorder is self.ranges:
            _runtime.recorder = self._previous
        self.warnings.uninstall()
        self.numba.uninstall()
        for step in (
            self.ranges.finish,
            self.warnings.finish,
            self.numba.finish,
            self.gc.finish,  # takes its gc.callbacks entry out
            self.logs.finish,  # puts logging.Logger.handle back
        ):
            try:
                step()
            except Exception as exc:  # a recorder must never raise into the user's process
                self.channel.emit(
                    EventKind.COLLECTOR_ERROR, where=step.__qualname__, error=repr(exc)
                )
        self.channel.emit(EventKind.END)
        self.channel.close()
