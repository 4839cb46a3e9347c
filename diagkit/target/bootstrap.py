"""Runs inside the target: installs the in-process collectors, then runs the program as ``python`` would.

Started through ``bootstrap_main.py script|module TARGET [ARGS...]`` with
DIAGKIT_CHANNEL (the run's folder), DIAGKIT_READY_FD and DIAGKIT_GO_FD (pipes for
the start handshake with the parent, see ``_handshake``) and DIAGKIT_PARENT_PID
(see ``_die_with_parent``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import faulthandler
import importlib
import importlib.machinery
import importlib.util
import io
import os
import resource
import runpy
import shutil
import signal
import sys
import threading
import time
import traceback
import types
import zipfile
from collections.abc import Callable
from types import TracebackType

from diagkit import _runtime
from diagkit._paths import is_target_file
from diagkit.target import fds, stackfile
from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind
from diagkit.target.gc_watch import GcWatcher
from diagkit.target.log_records import LogRecorder, level_number
from diagkit.target.numba_events import NumbaWatcher
from diagkit.target.ranges import RangeRecorder
from diagkit.target.warnings_counter import WarningCounter


class _Run:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.ranges = RangeRecorder(channel)
        self.warnings = WarningCounter(channel)
        self.numba = NumbaWatcher(channel)
        self.gc = GcWatcher(channel)
        self.logs = LogRecorder(channel, level_number(os.environ.pop("DIAGKIT_LOG_LEVEL", "")))
        self._finished = False
        self._sigterm = False
        # A child the program forks inherits this object: its copy is not the run's.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._extra_finish: list[Callable[[], None]] = []
        # What the interpreter, site and diag itself loaded before the program's first line:
        # none of it is the program's import (diag's own version is always reported).
        self.preloaded: set[str] = set()

    def install(self) -> None:
        self.warnings.install()
        self.numba.install()
        self.gc.install()
        self.logs.install()
        _runtime.recorder = self.ranges
        _prepare_stack_signal(self.channel)
        # Only take SIGTERM if the program has not: diag's timeout sends it, and the
        # report should still get the ranges and counts gathered so far.
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, self._on_sigterm)
            # A child the program forks (a Pool worker) is the program's: it dies of SIGTERM
            # at once, as under plain python, not at diag's handler's next bytecode.
            os.register_at_fork(after_in_child=_default_sigterm)

    def start_extra(self, specs: str) -> None:
        """Start the extra collectors named in DIAGKIT_COLLECTORS ("module:function,...").

        Each is called with the channel right before the program's first line and
        returns a callable that finishes it (flushes its results) at exit.
        """
        for spec in filter(None, specs.split(",")):
            mod_name, _, func = spec.partition(":")
            try:
                start = getattr(importlib.import_module(mod_name), func)
                self._extra_finish.append(start(self.channel))
            except Exception as exc:
                self.channel.emit(EventKind.COLLECTOR_ERROR, where=spec, error=repr(exc))

    def finish(self) -> None:
        with self._lock:
            if self._finished or os.getpid() != self._pid:
                return
            self._finished = True
        steps = [
            *self._extra_finish,
            self.ranges.finish,
            self.warnings.finish,
            self.numba.finish,
            self.gc.finish,
            self.logs.finish,
        ]
        for step in (*steps, self._modules):
            try:
                step()
            except Exception as exc:  # a collector must never change how the program ends
                where = getattr(step, "__qualname__", repr(step))
                self.channel.emit(EventKind.COLLECTOR_ERROR, where=where, error=repr(exc))
        self.channel.emit(EventKind.END)
        self.channel.close()
        if _orphaned(patience=0.2 if self._sigterm else 0.0):
            # diag was killed: nobody will read or remove the channel folder.
            shutil.rmtree(self.channel.folder, ignore_errors=True)

    def _modules(self) -> None:
        top: dict[str, str] = {}
        for name, mod in list(sys.modules.items()):
            if "." in name or name.startswith("_") or name in self.preloaded:
                continue
            f = getattr(mod, "__file__", None)
            if f:
                top[name] = f
        self.channel.emit(EventKind.MODULES, modules=top)

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self._sigterm = True
        self.finish()  # never raises: this runs at whatever line the program was on
        _close_stack_file()  # dying by the signal again skips atexit
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _default_sigterm() -> None:
    with contextlib.suppress(ValueError, OSError):  # not the main thread: leave it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


_stack_file_closers: list[Callable[[], None]] = []


def _close_stack_file() -> None:
    while _stack_file_closers:
        _stack_file_closers.pop()()


def _prepare_stack_signal(channel: Channel) -> None:
    pid = os.getpid()
    try:
        fd = fds.move_high(stackfile.create(pid))
    except stackfile.UnsafeStackFile as exc:
        channel.emit(EventKind.STACK_FILE_REFUSED, reason=str(exc))
        return
    except OSError:
        return
    ident = fds.identity(fd)

    def close() -> None:
        faulthandler.unregister(stackfile.SIGNAL)
        if fds.still_ours(fd, ident):  # else the number is the program's now
            os.close(fd)
        if os.getpid() == pid:  # a forked child exiting must not take its parent's file
            stackfile.remove(pid, ident)

    try:
        stackfile.write_header(fd)
        faulthandler.register(stackfile.SIGNAL, file=fd, all_threads=True, chain=False)
    except (OSError, ValueError, RuntimeError):
        close()
        return
    _stack_file_closers.append(close)
    atexit.register(_close_stack_file)


_parent_pid = _own_pid = 0


def _die_with_parent() -> None:
    """Have the kernel send SIGTERM when diag dies, even by SIGKILL: never run on orphaned.

    The signal comes when the thread that started us exits (diag's main thread) and is
    not passed on to the program's own children. Without a DIAGKIT_PARENT_PID (a
    launcher such as nsys sits between) the program is left alone.
    """
    global _parent_pid, _own_pid
    parent = os.environ.pop("DIAGKIT_PARENT_PID", "")
    if not parent.isdigit():
        return
    _parent_pid, _own_pid = int(parent), os.getpid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        return
    if _orphaned():  # diag died before the request was in place
        shutil.rmtree(os.environ.get("DIAGKIT_CHANNEL", ""), ignore_errors=True)
        os.kill(os.getpid(), signal.SIGTERM)


_PR_SET_PDEATHSIG = 1
_PF_EXITING = 0x4  # linux/sched.h: set as a task starts to exit


def _orphaned(patience: float = 0.0) -> bool:
    """Whether diag is gone or going.

    The kernel's signal comes as the thread that started us exits, and until diag's
    other threads have exited too, we are still its child. That thread is then marked
    exiting (PF_EXITING in its /proc stat flags), whatever state it sleeps in on the way
    out; a parent that is running (as it does while it dies) is watched for up to
    ``patience`` seconds.
    """
    if _parent_pid == 0 or os.getpid() != _own_pid:  # a forked child's parent is the program
        return False
    deadline = time.monotonic() + patience
    while True:
        if os.getppid() != _parent_pid:
            return True
        try:
            with open(f"/proc/{_parent_pid}/stat", "rb") as fh:
                fields = fh.read().rpartition(b")")[2].split()
            state, flags = fields[0], int(fields[6])
        except (OSError, IndexError, ValueError):
            return True
        if state in (b"Z", b"X") or flags & _PF_EXITING:
            return True
        if state not in (b"R", b"D") or time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """Drop our own and runpy's frames so the traceback reads as under plain ``python``."""
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if is_target_file(os.path.abspath(fname)) or fname.endswith(("runpy.py", "<frozen runpy>")):
            tb = tb.tb_next
        else:
            break
    return tb


def _report_exception(run: _Run, exc: BaseException) -> None:
    tb = _user_traceback(exc.__traceback__)
    exc.__traceback__ = tb
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    last = traceback.extract_tb(tb)[-1] if tb is not None else None
    run.channel.emit(
        EventKind.EXCEPTION,
        type=f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
        message=str(exc),
        traceback=text,
        file=last.filename if last else "",
        line=last.lineno or 0 if last else 0,
        function=last.name if last else "",
    )
    # The program may have installed its own hook (rich, IPython): it prints as it would have.
    sys.excepthook(type(exc), exc, tb)
    sys.stderr.flush()


def _handshake() -> None:
    """Say we are ready, then wait until the sampler is attached.

    The parent starts py-spy only after "ready", so interpreter start-up and our
    own imports are never sampled, and the program's first line always is.
    """
    ready = os.environ.pop("DIAGKIT_READY_FD", None)
    go = os.environ.pop("DIAGKIT_GO_FD", None)
    for fd, op in ((ready, "write"), (go, "read")):
        if fd is None:
            continue
        try:
            if op == "write":
                os.write(int(fd), b"r")
            else:
                os.read(int(fd), 1)
            os.close(int(fd))
        except (OSError, ValueError):
            pass


def main() -> None:
    _die_with_parent()
    kind, target, *args = sys.argv[1:]
    channel = Channel(os.environ.pop("DIAGKIT_CHANNEL"))
    run = _Run(channel)
    run.install()
    atexit.register(run.finish)
    sys.argv = [target, *args]  # for -m, run_module replaces argv[0] with the module's file
    if not sys.flags.safe_path:  # python -P / PYTHONSAFEPATH adds no first entry at all
        # As python computes it: a script's folder after its links are resolved.
        first = os.path.dirname(os.path.realpath(target)) if kind == "script" else os.getcwd()
        sys.path.insert(0, first)
    _handshake()
    if kind == "module" and not _module_exists(target, channel):
        sys.exit(2)
    run.start_extra(os.environ.pop("DIAGKIT_COLLECTORS", ""))
    run.preloaded = set(sys.modules) - {"diagkit"}
    # The CPU the interpreter and the bootstrap used so far is not the program's: the parent
    # subtracts it, as the wall time also starts here.
    # getrusage, not os.times: the same accounting as the parent's wait4, not 10 ms ticks.
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    channel.emit(EventKind.START, t=time.monotonic_ns(), cpu=[cpu.ru_utime, cpu.ru_stime])
    try:
        run_program(kind, target)
    except SystemExit as exc:
        channel.emit(EventKind.EXIT, code=_exit_code(exc.code))
        raise
    except KeyboardInterrupt as exc:
        _report_exception(run, exc)
        run.finish()
        # Die the way an interrupted python does, so the parent sees SIGINT.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException as exc:
        _report_exception(run, exc)
        sys.exit(1)
    channel.emit(EventKind.EXIT, code=0)


def run_program(kind: str, target: str) -> None:
    """Run the program in a fresh ``__main__``, as the interpreter itself would.

    A script file is compiled and executed directly because ``runpy.run_path``
    would rewrite ``sys.argv[0]``; python keeps argv[0] as typed and makes
    ``__file__`` absolute. Directories and zip files with a ``__main__.py`` go
    through runpy, as they do in python. The sampler cuts every stack at this
    function's frame: what lies below it is the program.
    """
    if kind == "module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
        return
    path = os.path.abspath(target)
    if not os.path.isfile(path) or zipfile.is_zipfile(path):
        runpy.run_path(path, run_name="__main__")
        return
    with io.open_code(path) as fh:
        code = compile(fh.read(), path, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__cached__ = None  # type: ignore[attr-defined]
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _module_exists(name: str, channel: Channel) -> bool:
    try:
        found = importlib.util.find_spec(name) is not None
        why = f"-m {name}: no module named {name!r} (looked in {sys.path[0]} and the installed packages)"
    except (ImportError, ValueError) as exc:  # a dotted name whose parent is missing or broken
        found, why = False, f"-m {name}: {exc}"
    if not found:
        channel.emit(EventKind.BAD_TARGET, message=why)
    return found


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1  # sys.exit("message") prints the message and exits 1
