"""What runs on a Dask cluster's machines for ``diag dump --dask`` and ``diag profile --dask``:
sent by reference, so diagkit must be installed where the workers run (the Nannies run its
py-spy there).

``scheduler_view`` runs on the scheduler: each worker's tasks, memory and last heartbeat,
what the scheduler holds back. ``nanny_stacks`` runs in a worker's Nanny, the worker's parent
(which Yama's ``ptrace_scope=1`` lets trace it), and ``worker_stacks`` in the worker itself
where there is no Nanny: py-spy dumps the worker twice, with each thread's CPU time between
them, so a task that holds the GIL or sits in C is seen where the worker's own event loop
(``Client.call_stack``) is silent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Any

from diagkit.collectors.ptracer import allow_tracer, clear_tracer
from diagkit.collectors.rss import status_kb
from diagkit.collectors.sampler import find_py_spy
from diagkit.collectors.thread_cpu import read_threads

# Dask passes the Nanny, worker or scheduler as the keyword ``dask_worker`` (``dask_scheduler``).

DUMP_TIMEOUT_S = 20.0


def scheduler_view(dask_scheduler: Any) -> dict[str, Any]:
    now = time.time()
    workers = []
    for ws in dask_scheduler.workers.values():
        mem = ws.memory
        workers.append(
            {
                "address": ws.address,
                "name": str(ws.name),
                "host": ws.host,
                "pid": ws.pid,
                "nanny": ws.nanny or "",
                "nthreads": ws.nthreads,
                "memory_limit": ws.memory_limit or 0,
                "rss": mem.process,
                "managed": mem.managed,
                "spilled": mem.spilled,
                "last_seen_s": max(0.0, now - ws.last_seen),
                "executing": [[_key(ts.key), float(d)] for ts, d in ws.executing.items()],
                "processing": len(ws.processing),
            }
        )
    return {
        "workers": workers,
        "queued": len(dask_scheduler.queued),
        "unrunnable": len(dask_scheduler.unrunnable),
        "tasks": len(dask_scheduler.tasks),
    }


def _key(key: Any) -> str:
    return key if isinstance(key, str) else repr(key)


def nanny_stacks(interval: float, dask_worker: Any = None) -> dict[str, Any]:
    """In a Nanny (``dask_worker`` is the Nanny here): its worker process's stacks."""
    proc = getattr(getattr(dask_worker, "process", None), "process", None)
    pid = getattr(proc, "pid", None)
    if not pid:
        return {"error": "this Nanny has no worker process running"}
    return dict(_stacks(int(pid), interval), path="nanny", worker=dask_worker.worker_address)


def worker_stacks(interval: float, dask_worker: Any = None) -> dict[str, Any]:
    """In a worker without a Nanny: its own stacks, py-spy named as its tracer for the dump."""
    allow_tracer(-1)  # PR_SET_PTRACER_ANY: py-spy is this worker's child, not its parent
    try:
        return dict(_stacks(os.getpid(), interval), path="worker", worker=dask_worker.address)
    finally:
        clear_tracer()


def _stacks(pid: int, interval: float) -> dict[str, Any]:
    exe = find_py_spy()
    if exe is None:
        return {"pid": pid, "error": "py-spy is not installed where this worker runs"}
    first_cpu = read_threads(pid).cpu
    first = _dump(exe, pid)
    time.sleep(interval)
    second = _dump(exe, pid)
    return {
        "pid": pid,
        "dumps": [first, second],
        "cpu": [first_cpu, read_threads(pid).cpu],
        "interval": interval,
        "cores": os.cpu_count() or 0,
    }


def _dump(exe: str, pid: int) -> dict[str, Any]:
    cmd = [exe, "dump", "--json", "--locals", "--pid", str(pid)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=DUMP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"py-spy dump failed: {exc}"}
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"py-spy dump exited {done.returncode}: {said}"}
    return {"json": done.stdout}


# ``diag profile --dask``: one recording per Nanny, kept between the call that starts it and
# the one that collects it. By the Nanny object: a LocalCluster keeps all its Nannies in one
# process.
_recordings: dict[int, dict[str, Any]] = {}
RSS_EVERY_S = 0.1


def start_recording(seconds: float, rate: int, dask_worker: Any = None) -> dict[str, Any]:
    """In a Nanny: py-spy records its worker for ``seconds``, and a thread polls its RSS."""
    import tempfile
    import threading

    proc = getattr(getattr(dask_worker, "process", None), "process", None)
    pid = getattr(proc, "pid", None)
    exe = find_py_spy()
    if not pid or exe is None:
        why = (
            "this Nanny has no worker process running"
            if not pid
            else "py-spy is not installed here"
        )
        return {"error": why}
    folder = tempfile.mkdtemp(prefix="diag-dask-")
    out = os.path.join(folder, "worker.chrometrace.json")
    err = open(os.path.join(folder, "py-spy.err"), "wb")  # noqa: SIM115 - closed in collect
    cmd = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "chrometrace"]
    cmd += ["--output", out, "--full-filenames", "--nonblocking", "--idle", "--threads"]
    cmd += ["--duration", str(max(1, round(seconds)))]
    started = time.monotonic()
    spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    points: list[list[float]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(RSS_EVERY_S):
            rss = status_kb(int(pid))[0] * 1024
            if rss:
                points.append([time.monotonic() - started, rss])
            if time.monotonic() - started > seconds + 5:
                return

    poller = threading.Thread(target=poll, name="diag-dask-rss", daemon=True)
    poller.start()
    cpu0 = _cpu_s(int(pid))
    _recordings[id(dask_worker)] = dict(
        cpu0=cpu0,
        pid=int(pid),
        folder=folder,
        out=out,
        err=err,
        spy=spy,
        stop=stop,
        poller=poller,
        points=points,
        started=started,
    )
    return {"pid": int(pid), "worker": dask_worker.worker_address}


def collect_recording(patience: float, dask_worker: Any = None) -> dict[str, Any]:
    """In the same Nanny: the recording's events and RSS, its files removed, nothing left running."""
    rec = _recordings.pop(id(dask_worker), None)
    if rec is None:
        return {"error": "no recording was started in this Nanny"}
    cpu1 = _cpu_s(rec["pid"])
    spy = rec["spy"]
    try:
        spy.wait(patience)
    except subprocess.TimeoutExpired:
        spy.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        try:
            spy.wait(5)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
    rec["stop"].set()
    rec["poller"].join(2)
    rec["err"].close()
    try:
        with open(rec["out"], encoding="utf-8", errors="replace") as fh:
            events = fh.read()
    except OSError:
        events = ""
    try:
        with open(os.path.join(rec["folder"], "py-spy.err"), errors="replace") as fh:
            said = fh.read().strip()
    except OSError:
        said = ""
    shutil.rmtree(rec["folder"], ignore_errors=True)
    proc = getattr(getattr(dask_worker, "process", None), "process", None)
    now_pid = getattr(proc, "pid", None)
    return {
        "pid": rec["pid"],
        "events": events,
        "rss": rec["points"],
        "py_spy_status": spy.returncode,
        "py_spy_said": said.splitlines()[-1] if said else "",
        "restarted": now_pid is not None and int(now_pid) != rec["pid"],
        "cpu_s": max(0.0, cpu1 - rec["cpu0"]) if cpu1 else 0.0,
        "alive": status_kb(rec["pid"])[0] > 0,
    }


def _cpu_s(pid: int) -> float:
    """User + system seconds of a process, from /proc/PID/stat (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0
