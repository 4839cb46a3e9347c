"""The trace's GPU tracks come from the report folder, read out of the nsys export when it was
summarized: the trace exporter never opens the export itself."""

from __future__ import annotations

import shutil
from pathlib import Path

from diagkit.gpu.nsys.tracks import gpu_tracks
from diagkit.gpu.session import import_trace
from diagkit.model.store import GPU_TRACKS, ReportFolder
from diagkit.render.perfetto import trace_events

SYNTH = (
    Path(__file__).resolve().parents[1] / "data" / "nsys" / "synthetic_kernels_memcpy_nvtx.sqlite"
)


def _slices(trace: dict) -> dict[str, list[str]]:
    names = {
        e["tid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"
    }
    out: dict[str, list[str]] = {}
    for e in trace["traceEvents"]:
        if e["ph"] == "X" and e["cat"].startswith(("gpu.", "nvtx")):
            out.setdefault(names[e["tid"]], []).append(e["name"])
    return out


def test_the_gpu_tracks_are_drawn_after_the_export_is_gone(tmp_path):
    export = tmp_path / "elsewhere" / "run.sqlite"
    export.parent.mkdir()
    shutil.copy(SYNTH, export)
    report, out = import_trace(export, tmp_path / "rep")
    assert report.files["gpu tracks"] == GPU_TRACKS
    export.unlink()  # an imported trace lives outside the folder, and may be moved or deleted
    trace = trace_events(report, out)
    tracks = _slices(trace)
    assert tracks["GPU kernels"] == ["saxpy_kernel", "cupy_multiply__float32_float32_float32"]
    assert tracks["GPU copies"] == ["Host-to-Device", "Device-to-Host"]
    assert trace["otherData"]["gpu"] == f"GPU tracks from {export}, timed from its window start"


def test_a_folder_without_the_timeline_gives_a_trace_that_says_so(tmp_path):
    report, out = import_trace(SYNTH, tmp_path / "rep")
    (out / GPU_TRACKS).unlink()  # a report saved before the timeline was kept beside it
    trace = trace_events(report, out)
    assert not _slices(trace)
    assert trace["otherData"]["gpu"] == f"no GPU tracks: the report folder has no {GPU_TRACKS}"
    (out / GPU_TRACKS).write_text('{"source": 3}')
    assert trace_events(report, out)["otherData"]["gpu"].startswith("no GPU tracks: ")


def test_an_unreadable_export_is_a_timeline_that_says_why(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(SYNTH.read_bytes()[:5000])
    tracks = gpu_tracks(bad)
    assert (
        not tracks.ops
        and tracks.problem.startswith("no GPU tracks: ")
        and str(bad) in tracks.problem
    )
    assert gpu_tracks(tmp_path / "none.sqlite").problem.endswith("not found; no GPU tracks")
    folder = ReportFolder(tmp_path)
    folder.write_gpu_tracks(gpu_tracks(SYNTH))
    again = folder.gpu_tracks()
    assert again is not None and len(again.ops) == 5 and again.ops[0].kind == "memcpy"
