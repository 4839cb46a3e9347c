"""The nsys SQLite reader against real and synthetic exports, with nsys stats' own numbers as the oracle."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from diagkit.errors import DiagError
from diagkit.gpu.nsys import stats_csv as nsys_csv
from diagkit.gpu.nsys.sqlite import load, read_trace

DATA = Path(__file__).resolve().parents[1] / "data" / "nsys"
SYNTH = DATA / "synthetic_kernels_memcpy_nvtx.sqlite"
REPORTS = sorted(nsys_csv.REPORTS)


@pytest.fixture(scope="module")
def synth():
    return load(SYNTH)


@pytest.mark.parametrize("report", REPORTS)
def test_synthetic_equals_nsys_stats_csv(synth, report):
    expected = (DATA / f"synthetic_kernels_memcpy_nvtx.{report}.csv").read_text()
    assert nsys_csv.to_csv(nsys_csv.REPORTS[report](synth)) == expected


def test_synthetic_numbers(synth):
    k = {x.name: x for x in synth.kernels}
    assert k["saxpy_kernel"].time.total_s == 2000 / 1e9
    assert k["saxpy_kernel"].grid == "4,1,1" and k["saxpy_kernel"].block == "256,1,1"
    assert k["cupy_multiply__float32_float32_float32"].time.count == 1
    htod, dtoh = (
        next(c for c in synth.copies if c.operation == op)
        for op in ("Host-to-Device", "Device-to-Host")
    )
    assert (htod.bytes.total, htod.time.total_s, htod.host_memory) == (
        4096,
        800e-9,
        {"pageable": 1},
    )
    assert (dtoh.bytes.total, dtoh.time.total_s, dtoh.host_memory) == (
        4096,
        300e-9,
        {"pageable": 1},
    )
    assert synth.memsets.bytes.total == 1024 and synth.memsets.time.total_s == 100e-9
    assert synth.copy_bytes == 8192
    assert synth.marks == 1


def test_synthetic_range_attribution(synth):
    r = {x.name: x for x in synth.ranges}
    # "step" holds both launches and both copies (runtime calls at 1000, 2000, 3000, 9000).
    assert (r["step"].kernel_count, r["step"].copy_count, r["step"].copy_bytes) == (2, 2, 8192)
    assert r["step"].kernel_s == pytest.approx(3000e-9)
    assert {t.operation: t.count for t in r["step"].transfers} == {
        "Host-to-Device": 1,
        "Device-to-Host": 1,
    }
    # registered_step [1900, 5600] holds the two launches but neither copy.
    assert (r["registered_step"].kernel_count, r["registered_step"].copy_count) == (2, 0)
    assert [x.name for x in r["registered_step"].kernels] == [
        "saxpy_kernel",
        "cupy_multiply__float32_float32_float32",
    ]
    assert r["mylib:inner"].domain == "mylib" and r["mylib:inner"].kernel_count == 0
    assert r["async_io"].style == "StartEnd"
    # The memset has no runtime call to join on: it belongs to no range, not to "outside".
    assert synth.outside_ranges is None


def test_synthetic_idle(synth):
    i = synth.idle
    # Busy: 800 + 2000 + 1000 + 100 + 300 ns of a 500..10000 ns window.
    assert i.busy_s == pytest.approx(4200e-9) and i.window_s == pytest.approx(9500e-9)
    assert i.idle_share == pytest.approx(5300 / 9500)
    assert i.active_idle_share == pytest.approx((8300 - 4200) / 8300)
    top = i.gaps[0]
    assert (top.start_t, top.end_t) == pytest.approx((5000e-9, 8600e-9))
    assert top.during == "mylib:inner"


def test_cupy_time_range_export():
    sec = load(DATA / "cupy_time_range_cpu_only.sqlite")
    got = {r.name: (r.time.count, round(r.time.total_s * 1e9)) for r in sec.ranges}
    assert got == {
        "cupy_range": (1, 558565255 - 552419583),
        "decorated": (1, 560733749 - 558631064),
        "argb": (1, 561833793 - 560771109),
    }
    assert sec.marks == 1
    assert not sec.kernels and not sec.copies and sec.idle is None
    assert "No CUDA kernels" in sec.gpu_status
    assert sec.source == "nsys-import" and "2023.4.4.54" in sec.source_detail


def test_nvtx_0_2_11_export():
    sec = load(DATA / "nvtx_0.2.11_ranges_cpu_only.sqlite")
    rows = nsys_csv.nvtx_sum(sec)[1:]
    assert [(r[-2], r[-1], r[2]) for r in rows] == [
        ("PushPop", "loop_body", "2"),
        ("PushPop", "decorated_fn", "2"),
        ("PushPop", "manual", "1"),
        ("PushPop", "mydomain:in_domain", "1"),
        ("StartEnd", "mydomain:se_range", "1"),
    ]
    loop = sec.ranges[0]
    assert round(loop.time.total_s * 1e9) == 10178755 + 14549951
    assert loop.time.stddev_s * 1e9 == pytest.approx(abs(10178755 - 14549951) / 2**0.5)
    assert sec.marks == 1 and not sec.notes


def test_nvtx_0_2_17_export_has_no_ranges_and_says_why():
    sec = load(DATA / "nvtx_0.2.17_ranges_cpu_only.sqlite")
    assert sec.ranges == [] and sec.marks == 0
    assert any("0.2.12" in n and "no NVTX ranges" in n for n in sec.notes)


def _copy(tmp_path: Path, name: str = "t.sqlite") -> Path:
    dst = tmp_path / name
    shutil.copy(SYNTH, dst)
    dst.chmod(0o644)
    return dst


def test_tolerates_missing_and_extra_tables_and_columns(tmp_path):
    p = _copy(tmp_path)
    con = sqlite3.connect(p)
    con.execute("DROP TABLE CUPTI_ACTIVITY_KIND_MEMSET")
    con.execute("DROP TABLE ENUM_CUDA_MEMCPY_OPER")
    con.execute("CREATE TABLE TARGET_INFO_PROCESS (pid INTEGER, name TEXT)")
    con.execute("INSERT INTO TARGET_INFO_PROCESS VALUES (4242, 'python')")
    # Same kernels, columns in another order plus one nsys may add some day.
    con.execute(
        "CREATE TABLE k2 AS SELECT 7 AS futureColumn, shortName, demangledName, end, start, "
        "correlationId, globalPid, gridX, gridY, gridZ, blockX, blockY, blockZ, "
        "registersPerThread FROM CUPTI_ACTIVITY_KIND_KERNEL"
    )
    con.execute("DROP TABLE CUPTI_ACTIVITY_KIND_KERNEL")
    con.execute("ALTER TABLE k2 RENAME TO CUPTI_ACTIVITY_KIND_KERNEL")
    con.commit()
    con.close()
    sec = load(p)
    assert sec.memsets is None
    assert nsys_csv.kern_sum(sec) == nsys_csv.kern_sum(load(SYNTH))
    assert [c.operation for c in sec.copies] == ["Host-to-Device", "Device-to-Host"]


def test_without_runtime_calls_work_is_not_attributed(tmp_path):
    p = _copy(tmp_path)
    con = sqlite3.connect(p)
    con.execute("DROP TABLE CUPTI_ACTIVITY_KIND_RUNTIME")
    con.commit()
    con.close()
    sec = load(p)
    assert len(sec.kernels) == 2
    assert all(r.kernel_count == 0 for r in sec.ranges)
    assert any("could not be tied to ranges" in n for n in sec.notes)


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (b"", "empty"),
        (b"this is not a database at all, just text\n" * 10, "not an SQLite database"),
    ],
)
def test_rejects_non_sqlite(tmp_path, content, expect):
    p = tmp_path / "bad.sqlite"
    p.write_bytes(content)
    with pytest.raises(DiagError) as err:
        load(p)
    assert str(p) in err.value.message and expect in err.value.message


def test_rejects_sqlite_that_is_not_nsys(tmp_path):
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE measurements (x REAL)")
    con.commit()
    con.close()
    with pytest.raises(DiagError) as err:
        load(p)
    msg = err.value.message
    assert str(p) in msg and "not an Nsight Systems export" in msg and "measurements" in msg


def test_rejects_truncated_file(tmp_path):
    p = tmp_path / "cut.sqlite"
    p.write_bytes(SYNTH.read_bytes()[:6000])
    with pytest.raises(DiagError) as err:
        read_trace(p)
    assert str(p) in err.value.message and "corrupt" in err.value.message


def test_rejects_table_without_required_column(tmp_path):
    p = _copy(tmp_path)
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE m2 AS SELECT start, end, copyKind FROM CUPTI_ACTIVITY_KIND_MEMCPY")
    con.execute("DROP TABLE CUPTI_ACTIVITY_KIND_MEMCPY")
    con.execute("ALTER TABLE m2 RENAME TO CUPTI_ACTIVITY_KIND_MEMCPY")
    con.commit()
    con.close()
    with pytest.raises(DiagError) as err:
        load(p)
    assert "CUPTI_ACTIVITY_KIND_MEMCPY" in err.value.message and "bytes" in err.value.message


def test_missing_file(tmp_path):
    with pytest.raises(DiagError, match="no such file"):
        load(tmp_path / "nope.sqlite")
