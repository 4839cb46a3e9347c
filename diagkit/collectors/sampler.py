"""py-spy, attached from outside to the target's pid: the run's source of time attribution."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_SAMPLING = re.compile(r"Sampling process (\d+) times a second")
_TOTALS = re.compile(r"Samples: (\d+) Errors: (\d+)")
PERMISSION_HINT = (
    "py-spy may not read this process's memory. Run diag as the same user as the target, and in a "
    "container add the SYS_PTRACE capability (docker run --cap-add SYS_PTRACE) or set "
    "kernel.yama.ptrace_scope=0 (sysctl); 'sudo diag ...' also works"
)


@dataclass
class SamplerResult:
    ok: bool
    reason: str = ""
    speedscope: Path | None = None
    samples: int = 0
    errors: int = 0
    version: str = ""


def find_py_spy() -> str | None:
    """The py-spy beside this interpreter (where its wheel installs it), else on PATH.

    A PATH entry may be a wrapper (a pyenv shim costs ~80 ms a call).
    """
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if os.access(beside, os.X_OK) else shutil.which("py-spy")


# RUST_BACKTRACE, where a user has it set, would bury py-spy's one-line error under a backtrace.
QUIET_ENV = {"RUST_BACKTRACE": "0", "RUST_LIB_BACKTRACE": "0"}


def py_spy_version(exe: str) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip().removeprefix("py-spy ").strip()
    except (OSError, subprocess.SubprocessError):
        return ""


class PySpySampler:
    """``py-spy record --pid``: started before the target runs its first line, stopped after it exits."""

    def __init__(
        self,
        pid: int,
        output: Path,
        *,
        rate: int,
        native: bool = False,
        subprocesses: bool = False,
        idle: bool = False,
        duration: float | None = None,
    ) -> None:
        self.pid = pid
        self.output = output
        self.rate = rate
        self.native = native
        self.subprocesses = subprocesses
        self.idle = idle
        self.duration = duration
        self.exe = find_py_spy()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: list[str] = []
        self._reader: threading.Thread | None = None
        self._attached = threading.Event()

    def command(self) -> list[str]:
        cmd = [
            self.exe or "py-spy", "record", "--pid", str(self.pid), "--rate", str(self.rate),
            "--format", "speedscope", "--output", str(self.output), "--full-filenames",
        ]  # fmt: skip
        if self.native:
            cmd.append("--native")
        if self.subprocesses:
            cmd.append("--subprocesses")
        if self.idle:
            cmd.append("--idle")
        if self.duration is not None:
            cmd += ["--duration", str(max(1, round(self.duration)))]
        return cmd

    def start(self, attach_timeout: float = 10.0) -> str | None:
        """Start sampling; return None once py-spy says it samples, else why it could not."""
        if self.exe is None:
            return "py-spy is not on PATH (it is a dependency of diagkit: pip install py-spy)"
        # A session of its own: Ctrl-C at the terminal is for the target and for diag,
        # which stops py-spy itself once the target has ended.
        self._proc = subprocess.Popen(
            # Its status lines go to stdout or stderr depending on the version and on
            # whether they are terminals: read both as one stream.
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, env={**os.environ, **QUIET_ENV},
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + attach_timeout
        while time.monotonic() < deadline:
            if self._attached.wait(0.02):
                return None
            if self._proc.poll() is not None:
                self._reader.join(1.0)
                return self._explain_failure()
        self.stop()
        return f"py-spy did not start sampling within {attach_timeout:.0f} s"

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr.append(line)
            if _SAMPLING.search(line):
                self._attached.set()

    def _explain_failure(self) -> str:
        text = " ".join(line.removeprefix("py-spy>").strip() for line in self._stderr if line)
        if re.search(r"permission|EPERM|Operation not permitted|ptrace", text, re.I):
            return f"py-spy was refused access to pid {self.pid}: {PERMISSION_HINT}"
        return f"py-spy failed: {text[-300:] or 'exit status ' + str(self._proc and self._proc.returncode)}"

    def stop(self, grace: float = 10.0) -> SamplerResult:
        """Wait for py-spy to notice the target has exited and write its file; nudge it if needed."""
        proc = self._proc
        if proc is None:
            return SamplerResult(ok=False, reason="py-spy was not started")
        try:
            proc.wait(timeout=grace / 2)
        except subprocess.TimeoutExpired:
            # The target is still alive (attach mode, or it outlived diag's interest): SIGINT
            # makes py-spy stop sampling and still write its output.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(2.0)
        text = "\n".join(self._stderr)
        totals = _TOTALS.search(text)
        samples, errors = (int(totals.group(1)), int(totals.group(2))) if totals else (0, 0)
        if self.output.exists() and os.path.getsize(self.output) > 0:
            return SamplerResult(True, "", self.output, samples, errors)
        return SamplerResult(False, self._explain_failure(), None, samples, errors)
