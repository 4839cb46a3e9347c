"""The in-process collector, run for real in a child python: no GPU here, and CuPy stood in by a fake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from diagkit.gpu.target import inprocess
from diagkit.gpu.target.inprocess import read_result

RUNNER = """\
import atexit, json, os, runpy, sys
from diagkit import _runtime

class Inner:  # stands in for the bootstrap's own range recorder
    calls = []
    def push(self, name): self.calls.append(("push", name))
    def pop(self, name): self.calls.append(("pop", name))

_runtime.recorder = Inner()
atexit.register(lambda: open(os.environ["INNER_LOG"], "w").write(json.dumps(Inner.calls)))
from diagkit.gpu.target import inprocess
assert inprocess.start_from_env()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

NVTX_PROGRAM = """\
import os, threading, time
import nvtx
import diagkit

print("env:", os.environ.get("DIAGKIT_GPU_OUT"))

@nvtx.annotate("decorated_fn", color="blue")
def work():
    time.sleep(0.003)

for _ in range(3):
    with nvtx.annotate("loop_body", color="red", category=1):
        work()

nvtx.push_range("manual")
time.sleep(0.004)
nvtx.pop_range()

rid = nvtx.start_range("se_range", domain="mydomain")
time.sleep(0.002)
nvtx.end_range(rid)

with nvtx.annotate("in_domain", domain="mydomain"):
    time.sleep(0.001)

dom = nvtx.get_domain("dom2")
dom.push_range(dom.get_event_attributes(message="dom_attr"))
dom.pop_range()
rid = dom.start_range(message="dom_se")
nvtx.get_domain("dom2").end_range(rid)
nvtx.mark("a_mark")

with diagkit.range("fit"):
    time.sleep(0.005)
    with diagkit.range("inner"):
        time.sleep(0.001)

def worker():
    with nvtx.annotate("thread_range"):
        time.sleep(0.002)

t = threading.Thread(target=worker)
t.start()
t.join()
raise SystemExit(3)
"""

FAKE_CUPY = """\
import types
import numpy as _np

__version__ = "0.0-fake"


class ndarray:
    def __init__(self, data):
        self._d = _np.array(data)

    nbytes = property(lambda self: self._d.nbytes)
    itemsize = property(lambda self: self._d.itemsize)

    def get(self, stream=None):
        return self._d.copy()

    def set(self, arr, stream=None):
        self._d = _np.array(arr)

    def sum(self):
        return ndarray(self._d.sum())

    def item(self):
        return self._d.item()

    def tolist(self):
        return self._d.tolist()

    def __float__(self):
        return float(self._d)

    def __int__(self):
        return int(self._d)

    def __bool__(self):
        return bool(self._d)


class _Pool:
    used = 0
    def used_bytes(self):
        return _Pool.used
    def total_bytes(self):
        return _Pool.used


_pool = _Pool()


def get_default_memory_pool():
    return _pool


def asarray(a, dtype=None):
    if isinstance(a, ndarray):
        return a
    out = ndarray(a)
    _Pool.used += out.nbytes
    return out


def array(a, dtype=None, copy=True):
    return ndarray(a._d if isinstance(a, ndarray) else a)


def asnumpy(a, stream=None):
    return a.get(stream) if isinstance(a, ndarray) else _np.asarray(a)


class _Event:
    done = True
    def record(self, stream=None):
        pass
    def synchronize(self):
        pass


nvtx_calls = []
cuda = types.ModuleType("cupy.cuda")
cuda.nvtx = types.ModuleType("cupy.cuda.nvtx")
cuda.nvtx.RangePush = lambda msg, id_color=-1: nvtx_calls.append(("push", msg))
cuda.nvtx.RangePushC = lambda msg, argb=0: nvtx_calls.append(("pushc", msg))
cuda.nvtx.RangePop = lambda: nvtx_calls.append(("pop",))
cuda.Event = _Event
cuda.get_elapsed_time = lambda start, end: 1.5
cuda.runtime = types.SimpleNamespace(
    getDeviceCount=lambda: 1,
    getDeviceProperties=lambda i: {"name": b"Fake GPU", "major": 9, "minor": 0,
                                   "totalGlobalMem": 80 << 30, "multiProcessorCount": 132},
)
"""

CUPY_PROGRAM = """\
import numpy as np
import cupy
import diagkit

host = np.ones((100, 256), dtype=np.float32)  # 1 KiB rows
with diagkit.range("fit"):
    acc = 0.0
    for i in range(30):
        with diagkit.range("iter"):
            x = cupy.asarray(host[i])       # host -> device, 1 KiB
            acc += float(x.sum())           # device -> host, one float32
    back = cupy.asnumpy(cupy.asarray(host)) # 100 KiB each way; asnumpy goes through .get once
    same = cupy.asarray(x)                  # already on the device: no copy
cupy.cuda.nvtx.RangePush("cupy_nvtx")
cupy.cuda.nvtx.RangePop()
print("original nvtx calls:", cupy.nvtx_calls)
"""


def _run(tmp_path: Path, program: str, env_extra: dict[str, str] | None = None):
    (tmp_path / "prog.py").write_text(program)
    (tmp_path / "runner.py").write_text(RUNNER)
    out = tmp_path / "gpu.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIAGKIT_", "NVTX_", "NSYS_"))}
    env.update({inprocess.ENV_OUT: str(out), "INNER_LOG": str(tmp_path / "inner.json")})
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "prog.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    return proc, out


def test_no_gpu_nvtx_and_diagkit_ranges_get_host_timings(tmp_path):
    proc, out = _run(tmp_path, NVTX_PROGRAM, {"DIAGKIT_GPU_MODE": "auto"})
    assert proc.returncode == 3, proc.stderr
    assert "env: None" in proc.stdout  # the variable is not passed on to the program's children
    sec = read_result(out)
    assert sec.available and sec.source == "host" and sec.gpu_found is False
    assert "No CUDA GPU was found" in sec.gpu_status
    r = {x.name: x for x in sec.ranges}
    assert set(r) == {
        "loop_body",
        "decorated_fn",
        "manual",
        "mydomain:se_range",
        "mydomain:in_domain",
        "dom2:dom_attr",
        "dom2:dom_se",
        "diagkit:fit",
        "diagkit:inner",
        "thread_range",
    }
    assert (r["loop_body"].time.count, r["decorated_fn"].time.count) == (3, 3)
    assert r["decorated_fn"].time.min_s >= 0.003
    assert r["loop_body"].time.total_s >= r["decorated_fn"].time.total_s
    assert r["manual"].time.total_s >= 0.004
    assert r["mydomain:se_range"].style == "StartEnd" and r["mydomain:se_range"].time.min_s >= 0.002
    assert r["mydomain:in_domain"].domain == "mydomain"
    assert r["diagkit:fit"].time.total_s >= 0.006 > r["diagkit:inner"].time.total_s >= 0.001
    assert r["thread_range"].time.count == 1
    assert sec.marks == 1
    assert sum(x.share for x in sec.ranges) == pytest.approx(1.0)
    # The bootstrap's recorder still sees every diagkit.range, in order.
    inner = json.loads((tmp_path / "inner.json").read_text())
    assert inner == [["push", "fit"], ["push", "inner"], ["pop", "inner"], ["pop", "fit"]]


def test_crashing_program_still_leaves_its_ranges(tmp_path):
    program = textwrap.dedent("""\
        import nvtx
        with nvtx.annotate("before_crash"):
            pass
        with nvtx.annotate("crashing"):
            raise ValueError("boom")
    """)
    proc, out = _run(tmp_path, program)
    assert proc.returncode == 1 and "ValueError: boom" in proc.stderr
    names = {r.name: r.time.count for r in read_result(out).ranges}
    assert names == {"before_crash": 1, "crashing": 1}


def test_cupy_level_collector_with_a_stand_in_cupy(tmp_path):
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text(FAKE_CUPY)
    proc, out = _run(
        tmp_path, CUPY_PROGRAM, {"DIAGKIT_GPU_MODE": "cupy", "PYTHONPATH": str(tmp_path)}
    )
    assert proc.returncode == 0, proc.stderr
    # The originals are still called, so an attached NVTX tool would see the range.
    assert "[('push', 'cupy_nvtx'), ('pop',)]" in proc.stdout
    sec = read_result(out)
    assert sec.source == "cupy" and sec.gpu_found is True
    assert [d.name for d in sec.devices] == ["Fake GPU"] and "0.0-fake" in sec.source_detail
    c = {x.operation: x for x in sec.copies}
    assert (c["Host-to-Device"].time.count, c["Host-to-Device"].bytes.total) == (
        31,
        30 * 1024 + 102400,
    )
    assert (c["Device-to-Host"].time.count, c["Device-to-Host"].bytes.total) == (
        31,
        30 * 4 + 102400,
    )
    assert all(x.measured == "host" for x in sec.copies)
    r = {x.name: x for x in sec.ranges}
    assert r["diagkit:iter"].time.count == 30 and r["diagkit:iter"].copy_count == 60
    assert r["diagkit:fit"].copy_count == 62
    # No CUDA event before the program's first allocation: the first "iter" and "fit" get none.
    assert r["diagkit:iter"].gpu_span.count == 29
    assert r["diagkit:iter"].gpu_span.total_s == pytest.approx(29 * 1.5e-3)
    assert r["diagkit:fit"].gpu_span is None
    assert r["cupy_nvtx"].time.count == 1
    [w] = [w for w in sec.warnings if w.kind == "small-transfers"]
    assert (w.range, w.count) == ("diagkit:iter", 60) and "2.0 per entry" in w.message
    assert sec.memory.pool_used_peak_bytes == 30 * 1024 + 102400
    assert any("kernels" in s for s in sec.cannot_see)


def test_importing_the_collector_loads_nothing_heavy():
    code = (
        "import sys, diagkit.gpu.target.inprocess, nvtx\n"
        "heavy = [m for m in ('cupy', 'cupti', 'sqlite3', 'rich') if m in sys.modules]\n"
        "patched = nvtx.annotate.__module__\n"
        "print(heavy, patched, len(sys.meta_path))\n"
    )
    plain = subprocess.run(
        [sys.executable, "-c", "import sys; print(len(sys.meta_path))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["[]", "nvtx.nvtx", plain.stdout.strip()]
