"""The running interpreter, sampled from outside for a window: ``diagkit.profile()``.

``start`` names a watcher process as this process's tracer, waits until its py-spy
samples, then puts the in-process recorders in; ``stop`` takes them out, ends the window
and reads the report the watcher wrote. Nothing of the process is left changed: no
recorder, no tracer named, no thread or child of diag's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from diagkit.collectors.ptracer import allow_tracer, clear_tracer
from diagkit.errors import DiagError
from diagkit.inside.recorders import Recorders
from diagkit.model.report import Report
from diagkit.model.store import UnreadableReport, load_report
from diagkit.run.folders import default_out_dir, prepare_out_dir
from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind
from diagkit.target.log_records import LEVELS

START_TIMEOUT_S = 60.0  # the watcher imports diag and starts py-spy: ~0.3-1 s
STOP_TIMEOUT_S = 300.0  # folding a long window's samples and writing the page


class SelfProfile:
    """One window of this process's own profile; ``report`` once it has stopped."""

    def __init__(
        self,
        out: str | os.PathLike[str] | None = None,
        *,
        rate: int | None = None,
        native: bool = False,
        log_level: str = "INFO",
        stem: str = "python",
        command: list[str] | None = None,
    ) -> None:
        if rate is not None and (not isinstance(rate, int) or rate < 1):
            raise DiagError(f"rate must be a whole number of samples a second, 1 or more: {rate!r}")
        if log_level.upper() not in LEVELS:
            raise DiagError(f"log_level must be one of {', '.join(LEVELS)}: {log_level!r}")
        self.out_dir = (
            prepare_out_dir(Path(out), "out=") if out is not None else default_out_dir(stem)
        )
        self.rate, self.native, self.log_level = rate, native, log_level.upper()
        self.command = command or [sys.executable, *sys.argv]
        self.report: Report | None = None
        self.problem = ""  # why there is no report, where the block itself raised
        self._folder = ""
        self._watcher: subprocess.Popen[bytes] | None = None
        self._recorders: Recorders | None = None

    def start(self) -> SelfProfile:
        self._folder = tempfile.mkdtemp(prefix="diag-inside-")
        ready = Path(self._folder, "ready")
        spec = {
            "pid": os.getpid(),
            "out": str(self.out_dir),
            "events": self._folder,
            "ready": str(ready),
            "rate": self.rate,
            "native": self.native,
            "command": self.command,
        }
        with open(os.path.join(self._folder, "watcher.err"), "wb") as err:
            self._watcher = subprocess.Popen(
                [sys.executable, "-m", "diagkit.inside.watcher_main", json.dumps(spec)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,  # a Ctrl-C at this process is not the watcher's
                close_fds=True,
            )
        refused = allow_tracer(self._watcher.pid)
        if refused:
            self._abandon()
            raise DiagError(f"diag cannot sample this process: {refused}")
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready.exists():
            if self._watcher.poll() is not None:
                why = self._watcher_error() or f"the sampler exited with {self._watcher.returncode}"
                self._abandon()
                raise DiagError(f"diag cannot sample this process: {why}")
            if time.monotonic() > deadline:
                self._abandon()
                raise DiagError(f"diag's sampler did not start within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.01)
        channel = Channel(self._folder)
        self._recorders = Recorders(channel, LEVELS[self.log_level])
        self._recorders.install()
        channel.emit(EventKind.START, t=time.monotonic_ns(), cpu=[0.0, 0.0])
        return self

    def stop(self) -> Report:
        """End the window; the report, also saved in ``out_dir``."""
        if self.report is not None:
            return self.report
        if self._watcher is None:
            raise DiagError("this profile was never started")
        if self._recorders is not None:
            self._recorders.remove()
        try:
            if self._watcher.poll() is None:
                self._watcher.send_signal(signal.SIGINT)
            try:
                self._watcher.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._watcher.kill()
                self._watcher.wait()
                raise DiagError(
                    f"diag's sampler did not finish within {STOP_TIMEOUT_S:.0f} s"
                ) from None
            try:
                read, _ = load_report(self.out_dir)
            except UnreadableReport as exc:
                why = self._watcher_error() or str(exc)
                raise DiagError(f"no report from this window: {why}") from None
            self.report = read.report
            return self.report
        finally:
            clear_tracer()
            shutil.rmtree(self._folder, ignore_errors=True)

    def _watcher_error(self) -> str:
        try:
            text = Path(self._folder, "watcher.err").read_text(errors="replace").strip()
        except OSError:
            return ""
        return text.splitlines()[-1] if text else ""

    def _abandon(self) -> None:
        if self._watcher is not None and self._watcher.poll() is None:
            self._watcher.kill()
            self._watcher.wait()
        clear_tracer()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> SelfProfile:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.stop()
            return
        try:  # the block's own exception is the one the user must see
            self.stop()
        except DiagError as problem:
            self.problem = str(problem)
