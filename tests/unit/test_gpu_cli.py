"""``diag gpu-trace --import``, nsys command lines and failures, the launch plan, and the terminal view."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from diagkit.commands.gpu_trace import gpu_trace
from diagkit.errors import DiagError
from diagkit.gpu.nsys import run as nsys_run
from diagkit.gpu.plan import GpuPlan, gpu_plan
from diagkit.gpu.summary.ops import HostRange, RawTrace
from diagkit.gpu.summary.timeline import summarize
from diagkit.gpu.target import inprocess
from diagkit.model.gpu import GpuSection
from diagkit.model.report import Report
from diagkit.model.serde import json_schema, to_dict
from diagkit.render.terminal.gpu import render_gpu
from tests.unit.nsys_standin import fake_nsys

DATA = Path(__file__).resolve().parents[1] / "data" / "nsys"
SYNTH = DATA / "synthetic_kernels_memcpy_nvtx.sqlite"


def _diag(args: list[str]) -> int:
    return gpu_trace.main(args=args, prog_name="diag gpu-trace", standalone_mode=False)


def test_import_writes_a_valid_report_and_nsys_style_csvs(tmp_path):
    out = tmp_path / "rep"
    assert _diag(["--import", str(SYNTH), "--out", str(out), "-q"]) == 0
    raw = json.loads((out / "report.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(raw, json_schema(Report))
    rep = Report.from_json((out / "report.json").read_text())
    assert rep.gpu.source == "nsys-import" and rep.target.kind == "import"
    assert rep.outcome.kind == "imported" and rep.outcome.wall_s == pytest.approx(9.5e-6)
    assert not rep.time.available and not rep.memory.available
    assert [k.name for k in rep.gpu.kernels] == [
        "saxpy_kernel",
        "cupy_multiply__float32_float32_float32",
    ]
    assert rep.files["gpu trace"] == str(SYNTH)
    for report in ("cuda_gpu_kern_sum", "cuda_gpu_mem_time_sum", "nvtx_sum", "cuda_api_sum"):
        written = (out / rep.files[f"gpu {report}"]).read_text()
        assert written == (DATA / f"synthetic_kernels_memcpy_nvtx.{report}.csv").read_text()


def test_import_of_a_corrupt_file_fails_in_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(SYNTH.read_bytes()[:5000])
    out = tmp_path / "rep"
    with pytest.raises(DiagError) as err:
        _diag(["--import", str(bad), "--out", str(out)])
    assert "\n" not in err.value.message and str(bad) in err.value.message
    assert err.value.exit_code == 2 and not out.exists()


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--import", "x.sqlite", "script.py"], "not both"),
        (["--import", "missing.sqlite"], "no such file"),
        (["--import", "trace.qdstrm"], "raw nsys capture"),
        (["script.py"], "script.py: no such file"),
    ],
)
def test_usage_errors(tmp_path, monkeypatch, args, expect):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trace.qdstrm").write_bytes(b"x")
    with pytest.raises(DiagError, match=expect):
        _diag(args)


def test_nsys_rep_without_nsys_explains_how_to_export(tmp_path, monkeypatch):
    rep = tmp_path / "run.nsys-rep"
    rep.write_bytes(b"not really")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(nsys_run, "_SEARCH", ())
    with pytest.raises(DiagError) as err:
        _diag(["--import", str(rep), "--out", str(tmp_path / "o")])
    assert "nsys was not found" in err.value.message and "nsys export" in err.value.message


@pytest.mark.parametrize(
    ("rc", "output", "expect"),
    [
        (
            1,
            "Generating...\nImporter error: QdstrmImporter not found\n",
            "QdstrmImporter is missing",
        ),
        (-9, "", "killed by SIGKILL"),
        (
            2,
            "ok line\nunrecognised option '--bogus'\nmore\n",
            "unrecognised option '--bogus' (exit code 2)",
        ),
        (5, "first\nlast words\n", "last words (exit code 5)"),
    ],
)
def test_summarize_failure(rc, output, expect):
    line = nsys_run.summarize_failure(rc, output)
    assert expect in line and "\n" not in line


def test_find_nsys(tmp_path, monkeypatch):
    with pytest.raises(DiagError, match="no such file"):
        nsys_run.find_nsys(str(tmp_path / "nope"))
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(DiagError, match="not an executable"):
        nsys_run.find_nsys(str(plain))
    nsys = fake_nsys(tmp_path, "exit 0\n")
    assert nsys_run.find_nsys(str(Path(nsys).parent)) == nsys
    monkeypatch.setenv("PATH", str(Path(nsys).parent))
    assert nsys_run.find_nsys() == nsys


def test_profile_command_wraps_the_child():
    cmd = nsys_run.profile_command("/x/nsys", Path("/r/gpu-trace"), ["python", "-m", "pkg", "-v"])
    assert cmd[:4] == ["/x/nsys", "profile", "-t", "cuda,nvtx,osrt"]
    assert cmd[cmd.index("-o") + 1] == "/r/gpu-trace" and cmd[cmd.index("--export") + 1] == "sqlite"
    assert cmd[-4:] == ["python", "-m", "pkg", "-v"]


def test_plan_without_nsys_uses_the_inprocess_collector(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(nsys_run, "_SEARCH", ())
    plan = gpu_plan(tmp_path)
    assert plan.nsys is None and plan.wrap(["python", "x.py"]) == ["python", "x.py"]
    assert plan.env() == {
        inprocess.ENV_OUT: str(tmp_path / "gpu-inprocess.json"),
        inprocess.ENV_MODE: "auto",
    }
    sec, _ = plan.collect()
    assert not sec.available and "wrote nothing" in sec.unavailable_reason
    assert "not found" in sec.notes[0]


def test_plan_with_nsys_merges_ranges_nsys_missed(tmp_path):
    plan = GpuPlan(out_dir=tmp_path, nsys="/x/nsys")
    assert plan.env()[inprocess.ENV_MODE] == "host"
    shutil.copy(SYNTH, tmp_path / "gpu-trace.sqlite")
    host = summarize(
        RawTrace(
            ranges=[
                HostRange("step", "PushPop", "", 0, 50, 1),  # nsys has it: not added twice
                HostRange("diagkit:fit", "PushPop", "diagkit", 0, 20_000, 1),
            ]
        )
    )
    payload = {"format": inprocess.FORMAT, "t0_ns": 0, "section": to_dict(host)}
    (tmp_path / "gpu-inprocess.json").write_text(json.dumps(payload))
    sec, files = plan.collect(t0_ns=0, returncode=0)
    assert sec.source == "nsys" and files["nsys sqlite"] == "gpu-trace.sqlite"
    names = [r.name for r in sec.ranges]
    assert names[0] == "diagkit:fit" and names.count("step") == 1 and len(names) == 5
    assert sum(r.share for r in sec.ranges) == pytest.approx(1.0)
    assert any("timed in-process" in n for n in sec.notes)


def test_plan_with_nsys_that_left_only_a_qdstrm(tmp_path):
    plan = GpuPlan(out_dir=tmp_path, nsys="/x/nsys")
    (tmp_path / "gpu-trace.qdstrm").write_bytes(b"raw")
    sec, _ = plan.collect(returncode=0)
    assert not sec.available and "QdstrmImporter" in sec.unavailable_reason


def _render(sec: GpuSection) -> str:
    con = Console(record=True, width=200, color_system=None)
    render_gpu(sec, con)
    return con.export_text()


def test_render_import_shows_kernels_copies_ranges_and_idle():
    from diagkit.gpu.nsys.sqlite import load

    text = _render(load(SYNTH))
    assert "source: nsys-import" in text
    assert "66.7%  2.0 µs      1" in text and "saxpy_kernel" in text
    assert "Host-to-Device" in text and "pageable 1" in text
    assert "2 kernels 3.0 µs" in text and "2 copies 8.0 KiB" in text
    assert "GPU idle 56% of 9.5 µs" in text and "during mylib:inner" in text


def test_render_without_gpu_says_so_first():
    sec = GpuSection(source="host", gpu_found=False, gpu_status="No CUDA GPU was found (x).")
    sec.ranges = summarize(
        RawTrace(ranges=[HostRange("fit", "PushPop", "", 0, 2_000_000, 1)])
    ).ranges
    sec.cannot_see = ["everything on the GPU"]
    lines = _render(sec).splitlines()
    assert lines[2].strip() == "No CUDA GPU was found (x)."
    assert any("2.00 ms" in ln and "fit" in ln for ln in lines)
    assert "cannot see: everything on the GPU" in lines[-1]


def test_render_unavailable_section():
    text = _render(
        GpuSection(available=False, unavailable_reason="nsys produced no report", source="nsys")
    )
    assert "not traced: nsys produced no report" in text
