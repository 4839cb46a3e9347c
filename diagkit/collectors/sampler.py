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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diagkit.collectors.ptrace_access import describe_tracers, may_ptrace
from diagkit.collectors.speedscope_merge import write_merged
from diagkit.collectors.threads import REFUSED, start_daemon
from diagkit.errors import DiagError, TargetBusy, TargetRefused

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
    slow_rate: int = 0  # the rate after the first seconds, where the run lasted that long
    slow_after_s: int = 0  # when the second py-spy was due (0: one rate was asked for)
    slow_failed: str = ""  # what the second py-spy said when it sampled nothing
    pid: int = 0  # the sampled process: its main thread's native id


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
    """``py-spy record --pid``: started before the target runs its first line, stopped after it exits.

    With ``slow_rate``, py-spy samples at ``rate`` for the first ``slow_after_s`` seconds
    and then a second py-spy takes over at ``slow_rate``: short runs keep the samples
    their shares need, and a long run stops paying for more samples than it can use
    (py-spy pauses the target for each one). The two files are merged into one with each
    sample weighted by its own interval, as speedscope's format allows.
    """

    def __init__(
        self,
        pid: int,
        output: Path,
        *,
        rate: int,
        native: bool = False,
        subprocesses: bool = False,
        idle: bool = False,
        nonblocking: bool = False,
        slow_rate: int = 0,
        slow_after_s: int = 0,
        alive: Callable[[], bool] | None = None,
    ) -> None:
        self.pid = pid
        self.output = output
        self.rate = rate
        self.native = native
        self.subprocesses = subprocesses
        self.idle = idle
        self.nonblocking = nonblocking
        self.phased = slow_rate > 0 and slow_after_s > 0 and alive is not None
        self.slow_rate, self.slow_after_s = slow_rate, slow_after_s
        self._alive = alive
        self.exe = find_py_spy()
        self._proc: subprocess.Popen[bytes] | None = None
        self._phases: list[tuple[int, Path]] = []  # (rate, file) of each py-spy started
        self._phase_lines: list[list[str]] = []  # what each of them printed
        self._readers: list[threading.Thread] = []
        self._attached = threading.Event()
        self._lock = threading.Lock()
        self._stopping = False
        self._switcher: threading.Thread | None = None
        self._slow_problem = ""  # why the slower py-spy never started, where diag knows
        # Why py-spy failed, as the error of its kind: TargetRefused, TargetBusy or DiagError.
        self.failure: DiagError | None = None

    def command(self, rate: int | None = None, output: Path | None = None) -> list[str]:
        cmd = [
            self.exe or "py-spy",
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(rate or self.rate),
            "--format",
            "speedscope",
            "--output",
            str(output or self.output),
            "--full-filenames",
        ]
        if self.native:
            cmd.append("--native")
        if self.subprocesses:
            cmd.append("--subprocesses")
        if self.idle:
            cmd.append("--idle")
        if self.nonblocking:
            cmd.append("--nonblocking")
        return cmd

    def _launch(self, cmd: list[str], rate: int, output: Path) -> subprocess.Popen[bytes] | str:
        """Start a py-spy and the thread that reads it; else why not (and no py-spy runs)."""
        try:
            # A session of its own: Ctrl-C at the terminal is for the target and for diag,
            # which stops py-spy itself once the target has ended.
            proc = subprocess.Popen(
                # Its status lines go to stdout or stderr depending on the version and on
                # whether they are terminals: read both as one stream.
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **QUIET_ENV},
            )
        except OSError as exc:
            return f"py-spy could not be started: {exc.strerror or exc}"
        lines: list[str] = []
        reader = start_daemon(self._read_stderr, "diag-py-spy-out", proc, lines)
        if reader is None:
            # Unread, py-spy would block on a full pipe, and its "Sampling" line would never come.
            proc.kill()
            proc.wait()
            return f"py-spy's output could not be read: {REFUSED}"
        self._phases.append((rate, output))
        self._phase_lines.append(lines)
        self._readers.append(reader)
        return proc

    def start(self, attach_timeout: float = 10.0) -> str | None:
        """Start sampling; return None once py-spy says it samples, else why it could not."""
        if self.exe is None:
            return "py-spy is not on PATH (it is a dependency of diagkit: pip install py-spy)"
        cmd = self.command()
        output = self.output
        if self.phased:
            output = self.output.with_suffix(".fast.json")
            cmd = [*self.command(self.rate, output), "--duration", str(self.slow_after_s)]
        launched = self._launch(cmd, self.rate, output)
        if isinstance(launched, str):
            return launched
        self._proc = launched
        deadline = time.monotonic() + attach_timeout
        while time.monotonic() < deadline:
            if self._attached.wait(0.02):
                if self.phased:
                    self._switcher = start_daemon(self._slow_down, "diag-py-spy-rate")
                    if self._switcher is None:
                        self._slow_problem = f"py-spy could not be started: {REFUSED}"
                return None
            if self._proc.poll() is not None:
                for reader in self._readers:
                    reader.join(1.0)
                return self._explain_failure()
        self.stop()
        return f"py-spy did not start sampling within {attach_timeout:.0f} s"

    def _slow_down(self) -> None:
        """When the fast py-spy has done its seconds, start the slow one (if the target lives)."""
        assert self._proc is not None
        self._proc.wait()
        with self._lock:
            if self._stopping or (self._alive is not None and not self._alive()):
                return
            output = self.output.with_suffix(".slow.json")
            launched = self._launch(self.command(self.slow_rate, output), self.slow_rate, output)
            if isinstance(launched, str):
                self._slow_problem = launched
            else:
                self._proc = launched

    def _read_stderr(self, proc: subprocess.Popen[bytes], lines: list[str]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            lines.append(line)
            if _SAMPLING.search(line):
                self._attached.set()

    def _lines(self) -> list[str]:
        return [line for lines in self._phase_lines for line in lines]

    def _explain_failure(self) -> str:
        self.failure = self._failure()
        return self.failure.message

    def _failure(self) -> DiagError:
        text = " ".join(line.removeprefix("py-spy>").strip() for line in self._lines() if line)
        access = may_ptrace(self.pid)  # None once the process is gone: it refused nothing
        if access is not None and re.search(r"permission|EPERM|not permitted|ptrace", text, re.I):
            if access is False:
                return TargetRefused(
                    f"py-spy was refused access to pid {self.pid}: {PERMISSION_HINT}"
                )
            # The kernel lets diag trace it: advice about permissions would send the user
            # after a problem they do not have.
            held = describe_tracers(self.pid)
            busy = f"another tracer holds it ({held})" if held else "diag may trace it"
            kind = TargetBusy if held else DiagError
            return kind(
                f"py-spy failed on pid {self.pid}, not for want of permission ({busy}): {text[-300:]}"
            )
        return DiagError(
            f"py-spy failed: {text[-300:] or 'exit status ' + str(self._proc and self._proc.returncode)}"
        )

    def stop_now(self) -> SamplerResult:
        """Stop sampling a target that keeps running (attach mode): py-spy stops by itself only
        when the target exits; SIGINT makes it write its file now."""
        with self._lock:
            self._stopping = True  # first, so that the slower py-spy is not started after this
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        return self.stop()

    def stop(self, grace: float = 10.0) -> SamplerResult:
        """Wait for py-spy to notice the target has exited and write its file; nudge it if needed."""
        with self._lock:
            self._stopping = True
            proc = self._proc
        if proc is None:
            return SamplerResult(ok=False, reason="py-spy was not started")
        if self._switcher is not None and self._switcher.is_alive():
            proc.wait()  # the fast py-spy ends with the target or its seconds, whichever first
            self._switcher.join()
            proc = self._proc
            assert proc is not None
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
        for reader in self._readers:
            reader.join(2.0)
        samples = errors = 0
        for m in _TOTALS.finditer("\n".join(self._lines())):
            samples, errors = samples + int(m.group(1)), errors + int(m.group(2))
        written = [(r, f) for r, f in self._phases if f.exists() and os.path.getsize(f) > 0]
        if len(written) > 1:
            write_merged(self.output, written)
            for _, f in written:
                f.unlink()
        elif written and written[0][1] != self.output:
            os.replace(written[0][1], self.output)  # py-spy's own weights are already 1/rate
        slow = self.slow_rate if len(written) > 1 else 0
        failed = self._slow_problem
        if not failed and len(self._phases) > 1 and len(written) < 2:
            said = " ".join(ln.removeprefix("py-spy>").strip() for ln in self._phase_lines[1])
            failed = said.strip() or "it wrote no samples"
        if self.output.exists() and os.path.getsize(self.output) > 0:
            return SamplerResult(
                True,
                "",
                self.output,
                samples,
                errors,
                slow_rate=slow,
                slow_after_s=self.slow_after_s if self.phased else 0,
                slow_failed=failed[-300:],
                pid=self.pid,
            )
        return SamplerResult(False, self._explain_failure(), None, samples, errors)
