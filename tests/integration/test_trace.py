"""profile.trace.json: Trace Event Format from a real run and from an nsys export given to diag."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from diagkit.model.report import Report
from diagkit.render.perfetto import trace_events
from tests.conftest import ROOT, run_diag
from tests.unit.trace_format import check_format

NSYS = ROOT / "tests" / "data" / "nsys" / "synthetic_kernels_memcpy_nvtx.sqlite"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trace")
    (folder / "stages.py").write_text(
        "import threading, time\n"
        "import diagkit\n"
        "def side():\n"
        "    with diagkit.range('side work'):\n"
        "        time.sleep(0.15)\n"
        "t = threading.Thread(target=side)\n"
        "with diagkit.range('load'):\n"
        "    t.start()\n"
        "    time.sleep(0.30)\n"
        "    with diagkit.range('parse'):\n"
        "        time.sleep(0.10)\n"
        "t.join()\n"
        "blob = bytearray(64 * 1024 * 1024)\n"
        "time.sleep(0.2)\n"
    )
    result = run_diag(["profile", "-q", "stages.py"], cwd=folder)
    assert result.returncode == 0, result.stderr
    return result


def test_a_real_run_is_a_valid_trace_with_its_ranges_timed(run):
    assert run.report.files["trace"] == "profile.trace.json"
    trace = json.loads((run.out_dir / "profile.trace.json").read_text())
    check_format(trace)
    pid = run.report.target.pid
    slices = {e["name"]: e for e in trace["traceEvents"] if e["ph"] == "X"}
    assert set(slices) == {"load", "parse", "side work"}
    load, parse, side = slices["load"], slices["parse"], slices["side work"]
    assert all(e["pid"] == pid for e in (load, parse, side))
    # The trace says what report.json says, in microseconds.
    for ev in run.report.ranges.events:
        assert slices[ev.name]["ts"] == pytest.approx(ev.start_t * 1e6, abs=0.01)
        assert slices[ev.name]["dur"] == pytest.approx((ev.end_t - ev.start_t) * 1e6, abs=0.01)
    assert 400_000 <= load["dur"] < 700_000
    assert 100_000 <= parse["dur"] < 300_000
    assert load["tid"] == parse["tid"] != side["tid"]  # one track per thread
    assert load["ts"] <= parse["ts"] and parse["ts"] + parse["dur"] <= load["ts"] + load["dur"]


def test_memory_is_a_counter_track_that_sees_the_allocation(run):
    trace = json.loads((run.out_dir / "profile.trace.json").read_text())
    counters = [e for e in trace["traceEvents"] if e["ph"] == "C"]
    assert len(counters) == len(run.report.memory.timeline) > 5
    assert [c["ts"] for c in counters] == sorted(c["ts"] for c in counters)
    top = max(c["args"]["rss MiB"] for c in counters)
    assert top == pytest.approx(run.report.memory.peak_rss / 2**20, rel=0.01)
    assert top > 64  # the 64 MiB bytearray


def test_gpu_kernels_copies_and_nvtx_ranges_from_an_nsys_export(tmp_path):
    result = run_diag(
        ["gpu-trace", "-q", "--import", str(NSYS), "--out", str(tmp_path / "g")], cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    rep = Report.from_json((tmp_path / "g" / "report.json").read_text())
    trace = trace_events(rep, tmp_path / "g")
    check_format(trace)
    names = {
        e["tid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"
    }
    by_track: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for e in trace["traceEvents"]:
        if e["ph"] == "X":
            by_track[names[e["tid"]]].append((e["name"], e["ts"], e["dur"]))
    # The export's timestamps are ns from 0; the trace is in µs from the first record.
    assert by_track["GPU kernels"] == [
        ("saxpy_kernel", 1.7, 2.0),
        ("cupy_multiply__float32_float32_float32", 3.8, 1.0),
    ]
    assert by_track["GPU copies"] == [("Host-to-Device", 0.6, 0.8), ("Device-to-Host", 8.6, 0.3)]
    assert by_track["GPU memsets"] == [("memset", 4.9, 0.1)]
    (nvtx,) = [v for k, v in by_track.items() if k.startswith("NVTX thread")]
    assert ("step", 0.0, 9.5) in nvtx and ("mylib:inner", 5.5, 2.0) in nvtx
    assert sum(d for n, _, d in by_track["GPU kernels"]) == pytest.approx(rep.gpu.kernel_s * 1e6)
