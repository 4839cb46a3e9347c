"""How long ``diag dump`` takes on a 50-thread process, side by side with ``py-spy dump`` alone.

    python scripts/bench_dump.py [--runs 15] [--threads 50] [--spin 1]

One target (N threads: --spin of them spin, the others wait on a lock, sleep
or block on a queue) is dumped by each command in turn, round after round, and the median
wall time of each command is printed, as a whole process from exec to exit:
what a user waits for. ``diag dump`` includes interpreter start-up, imports,
a 0.1 s window that measures each thread's CPU, py-spy, and the process facts.
Both run as installed, directly (a pyenv shim on PATH adds ~80 ms to each).

diag runs with a bytecode cache (in a temporary PYTHONPYCACHEPREFIX, warmed by
one uncounted run), as an installed package has one. The last row runs it
with PYTHONDONTWRITEBYTECODE=1 and no cache for diag's own modules, as on a
machine where that variable is set: every import compiles its source.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

TARGET = """
import queue, sys, threading, time
n, spinners = int(sys.argv[1]), int(sys.argv[2])
lock, q, stop = threading.Lock(), queue.Queue(), threading.Event()
lock.acquire()
def locked(): lock.acquire()
def sleeper(): time.sleep(3600)
def waiter(): q.get()
def spin():
    x = 0
    while not stop.is_set():
        x += 1
kinds = [locked, sleeper, waiter]
for i in range(n - 1 - spinners):
    threading.Thread(target=kinds[i % 3], daemon=True).start()
for _ in range(spinners):
    threading.Thread(target=spin, daemon=True).start()
print("ready", flush=True)
time.sleep(3600)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=50)
    ap.add_argument("--spin", type=int, default=1, help="threads that spin (use CPU)")
    args = ap.parse_args()
    bindir = Path(sys.executable).parent
    spy, diag = str(bindir / "py-spy"), str(bindir / "diag")
    target = _start(args.threads, args.spin)
    pid = str(target.pid)
    cache = tempfile.mkdtemp(prefix="bench-dump-pyc-")
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = cache
    uncached = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    commands = {
        "py-spy dump": ([spy, "dump", "--pid", pid], cached),
        "py-spy dump --json": ([spy, "dump", "--pid", pid, "--json"], cached),
        "diag dump": ([diag, "dump", "--pid", pid], cached),
        "diag dump --json": ([diag, "dump", "--pid", pid, "--json"], cached),
        "diag --version (start-up only)": ([diag, "--version"], cached),
        "diag dump, no bytecode cache": ([diag, "dump", "--pid", pid], uncached),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    try:
        threads = len(os.listdir(f"/proc/{pid}/task"))
        for cmd, env in commands.values():
            subprocess.run(cmd, capture_output=True, env=env)  # warm the caches
        for _ in range(args.runs):
            for name, (cmd, env) in commands.items():
                t = time.perf_counter()
                proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
                _, status, ru = os.wait4(proc.pid, 0)
                times[name].append(time.perf_counter() - t)
                proc.returncode = os.waitstatus_to_exitcode(status)
                # The child's own CPU and that of the children it reaped (py-spy).
                cpu[name].append(ru.ru_utime + ru.ru_stime)
                if proc.returncode != 0:
                    sys.exit(f"{name} failed with status {proc.returncode}")
    finally:
        target.kill()
        target.wait()
        shutil.rmtree(cache, ignore_errors=True)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"target: {threads} threads, {args.spin} spinning; median of {args.runs} runs, "
        f"interleaved; load {load}"
    )
    print(f"{'command':<32} {'median':>9} {'min':>9} {'max':>9} {'CPU':>9}")
    for name, ts in times.items():
        med, lo, hi, c = statistics.median(ts), min(ts), max(ts), statistics.median(cpu[name])
        print(
            f"{name:<32} {med * 1e3:6.0f} ms {lo * 1e3:6.0f} ms {hi * 1e3:6.0f} ms {c * 1e3:6.0f} ms"
        )


def _start(n: int, spinners: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-c", textwrap.dedent(TARGET), str(n), str(spinners)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


if __name__ == "__main__":
    main()
