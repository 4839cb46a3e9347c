"""``diag dump --dask ADDRESS``: every worker's stacks, tasks and memory, read where Dask's
own tools go silent.

The scheduler says what each worker runs (``dask_remote.scheduler_view``); each worker's
Nanny, its parent, runs py-spy on it twice (``dask_remote.nanny_stacks``), so a task that
holds the GIL or sits in C or Numba code is seen even while the worker's event loop cannot
answer. A worker without a Nanny dumps itself through its own loop (``Client.run``), which
such a task blocks: that path is used only where there is no Nanny, and has a deadline.
Each executing task is matched to its thread by the ``key`` local of distributed's
``_run_task`` frame, and gets that thread's verdict across the two dumps.
"""

from __future__ import annotations

import concurrent.futures
import re
from typing import Any

from diagkit.collectors import dask_remote
from diagkit.collectors.py_spy_dump import parse_dump_json
from diagkit.dumping.verdict import is_library_frame, python_frames, thread_verdicts
from diagkit.errors import DiagError
from diagkit.model.dask_dump import ClusterDump, TaskRun, WorkerDump
from diagkit.model.report import StackFrame, StacksSection, ThreadStack

WORKER_PATH_TIMEOUT_S = 10.0  # a worker's own loop that has not answered by then is blocked
STALE_HEARTBEAT_S = 5.0
MEMORY_HOLDER_SHARE = 0.6
MEMORY_HOLDER_MIN = 64 << 20
_WAIT_FUNCS = {"result", "gather", "wait", "_gather", "get"}
_KEY_REPR = re.compile(r"""^(['"])(.*)\1$""")


def connect(address: str, timeout: float) -> Any:
    """A Client on ``address``, or one line saying why there is none within ``timeout``."""
    try:
        from distributed import Client
    except ImportError:
        raise DiagError("--dask needs dask.distributed: pip install 'diagkit[dask]'") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DiagError(
            f"no Dask scheduler answered at {address} within {timeout:g} s ({why})"
        ) from None
    except ValueError as exc:  # an address distributed cannot parse
        raise DiagError(f"--dask {address}: {exc}") from None


def dump_cluster(client: Any, address: str, interval: float, result: ClusterDump) -> ClusterDump:
    view = client.run_on_scheduler(dask_remote.scheduler_view)
    result.address, result.interval_s = address, interval
    result.queued, result.unrunnable, result.tasks = (
        view["queued"],
        view["unrunnable"],
        view["tasks"],
    )
    workers = [_worker(w) for w in view["workers"]]
    by_nanny = {w.nanny: w for w in workers if w.nanny}
    if by_nanny:
        nannies = {n: w.address for n, w in by_nanny.items()}
        for nanny, answer in run_in_nannies(
            client, nannies, dask_remote.nanny_stacks, interval
        ).items():
            if nanny in by_nanny:
                _take(by_nanny[nanny], answer)
    for w in workers:
        if not w.nanny:
            _take(w, _through_its_loop(client, w.address, interval))
    for w in workers:
        _match_tasks(w)
    result.workers = sorted(workers, key=lambda w: w.name)
    result.verdicts = cluster_verdicts(result)
    return result


def run_in_nannies(
    client: Any, nannies: dict[str, str], function: Any, *args: Any
) -> dict[str, Any]:
    """``function(*args)`` in each Nanny of ``nannies`` (Nanny address -> its worker's), the
    answers (or the exceptions raised) by Nanny address. Dask is told the workers and answers
    by the workers' addresses (older Dask by the Nannies')."""
    answers = client.run(
        function, *args, nanny=True, on_error="return", workers=list(nannies.values())
    )
    nanny_of = {w: n for n, w in nannies.items()}
    return {nanny_of.get(who, who): answer for who, answer in answers.items()}


def _worker(w: dict[str, Any]) -> WorkerDump:
    return WorkerDump(
        address=w["address"],
        name=w["name"],
        host=w["host"],
        pid=int(w["pid"] or 0),
        nanny=w["nanny"],
        nthreads=int(w["nthreads"]),
        memory_limit=int(w["memory_limit"]),
        rss=int(w["rss"]),
        managed=int(w["managed"]),
        spilled=int(w["spilled"]),
        last_seen_s=float(w["last_seen_s"]),
        processing=int(w["processing"]),
        tasks=[TaskRun(key=k, prefix=_prefix(k), running_s=s) for k, s in w["executing"]],
    )


def _through_its_loop(client: Any, address: str, interval: float) -> Any:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    job = pool.submit(
        client.run, dask_remote.worker_stacks, interval, workers=[address], on_error="return"
    )
    try:
        return job.result(WORKER_PATH_TIMEOUT_S + interval).get(address)
    except concurrent.futures.TimeoutError:
        return {
            "path": "worker",
            "error": f"no Nanny, and the worker's own event loop did not answer within "
            f"{WORKER_PATH_TIMEOUT_S:g} s (a task holds the GIL or blocks it): start workers "
            "with a Nanny (the default) to see its stacks",
        }
    finally:
        pool.shutdown(wait=False)


def _take(w: WorkerDump, answer: Any) -> None:
    if isinstance(answer, BaseException):
        missing = isinstance(answer, ModuleNotFoundError) and "diagkit" in str(answer)
        w.error = (
            "diagkit is not installed where this worker runs (it runs py-spy there)"
            if missing
            else f"{type(answer).__name__}: {answer}"
        )
        return
    if not isinstance(answer, dict):
        w.error = "no answer"
        return
    w.path = answer.get("path", "")
    if answer.get("error"):
        w.error = answer["error"]
        return
    pid, gap = int(answer["pid"]), float(answer["interval"])
    for i, (dump, cpu) in enumerate(zip(answer["dumps"], answer["cpu"], strict=True)):
        sec = StacksSection(source="py-spy dump --locals", pid=pid, taken_t=i * gap)
        if dump.get("error"):
            sec.available, sec.unavailable_reason = False, dump["error"]
        else:
            sec.threads = parse_dump_json(dump["json"])
            for th in sec.threads:
                th.cpu_s = cpu.get(th.thread_id)  # seconds, by native thread id
        w.dumps.append(sec)
    w.verdicts = thread_verdicts(w.dumps)
    failed = [d.unavailable_reason for d in w.dumps if not d.available]
    if failed and len(failed) == len(w.dumps):
        w.error = failed[0]


def _match_tasks(w: WorkerDump) -> None:
    """Each executing task's thread, by the key in distributed's ``_run_task`` frame."""
    last = next((d for d in reversed(w.dumps) if d.available), None)
    if last is None:
        return
    key_of: dict[str, ThreadStack] = {}
    for th in last.threads:
        for fr in th.frames:
            if fr.function == "_run_task" and "key" in fr.locals:
                key_of[_unquote(fr.locals["key"])] = th
    verdict = {v.thread_id: v for v in w.verdicts}
    # The scheduler learns what runs from heartbeats: a task started since the last one is
    # in the stacks before it is in the scheduler's account.
    known = {t.key for t in w.tasks}
    w.tasks += [TaskRun(key=k, prefix=_prefix(k), running_s=0.0) for k in key_of if k not in known]
    for task in w.tasks:
        found = key_of.get(task.key)
        if found is None:
            continue
        th = found
        task.thread_id = th.thread_id
        top = _task_function(th)
        if top is not None:
            task.function, task.file, task.line = top.function, top.file, top.line
        v = verdict.get(th.thread_id)
        if v is not None:
            task.verdict, task.text = v.verdict, v.text
        if _waits_on_a_future(th):
            task.verdict = "waiting"
            task.text = "waiting on another task's result (a future it asked for)"


def _task_function(th: ThreadStack) -> StackFrame | None:
    """The function Dask called for the task: the frame just inside Dask's own call of it
    (py-spy lists the innermost frame first)."""
    frames = python_frames(th)
    for i, f in enumerate(frames):
        if i and _is_dask_frame(f) and not _is_dask_frame(frames[i - 1]):
            return frames[i - 1]
    own = [f for f in frames if not is_library_frame(f)]
    return own[0] if own else None


def _is_dask_frame(f: StackFrame) -> bool:
    return "/dask/" in f.file or "/distributed/" in f.file


def _waits_on_a_future(th: ThreadStack) -> bool:
    return any(
        "distributed" in f.file and f.function.rsplit(".", 1)[-1] in _WAIT_FUNCS
        for f in th.frames[-8:]
    )


def _unquote(text: str) -> str:
    m = _KEY_REPR.match(text.strip())
    return m.group(2) if m else text.strip()


def _prefix(key: str) -> str:
    """Dask's task prefix ("inc-3a4b..." -> "inc"), by Dask's own rule."""
    from dask.utils import key_split

    return str(key_split(key))


def cluster_verdicts(c: ClusterDump) -> list[str]:
    out = []
    waiting = c.queued + c.unrunnable + sum(max(0, w.processing - w.nthreads) for w in c.workers)
    idle = [w for w in c.workers if w.processing == 0]
    if idle and waiting:
        names = ", ".join(w.name or w.address for w in idle[:4])
        out.append(
            f"{len(idle)} idle worker{'s' if len(idle) > 1 else ''} ({names}) while {waiting} tasks wait"
        )
    held = [(w.managed + w.spilled, w) for w in c.workers]
    total = sum(h for h, _ in held)
    if len(held) > 1 and total >= MEMORY_HOLDER_MIN:
        most, w = max(held, key=lambda hw: hw[0])
        if most >= MEMORY_HOLDER_SHARE * total:
            out.append(
                f"{w.name or w.address} holds {most / total:.0%} of the cluster's results "
                f"({most / 2**20:,.0f} of {total / 2**20:,.0f} MiB)"
            )
    for w in c.workers:
        if w.last_seen_s >= STALE_HEARTBEAT_S:
            out.append(
                f"{w.name or w.address} last reached the scheduler {w.last_seen_s:.1f} s ago: "
                "its event loop is blocked (a task holding the GIL, or a long C call)"
            )
        stuck = [t for t in w.tasks if t.verdict == "stuck"]
        for t in stuck:
            out.append(f"task {t.key} on {w.name or w.address} is stuck: {t.text}")
    return out
