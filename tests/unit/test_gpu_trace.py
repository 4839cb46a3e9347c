"""The shared summary on hand-built traces: statistics, attribution across threads, and warnings."""

from __future__ import annotations

import pytest

from diagkit.gpu.summary.ops import ApiCall, HostRange, Op, RawTrace
from diagkit.gpu.summary.stats import RunningStats, durations
from diagkit.gpu.summary.timeline import summarize

MAIN, OTHER = 1, 2


def _loop_trace(iterations: int, nbytes: int = 4096) -> RawTrace:
    """fit > iter (x N), one host-to-device copy and one kernel launched in every iteration."""
    tr = RawTrace()
    t = 0
    tr.ranges.append(HostRange("fit", "PushPop", "", 0, iterations * 1000 + 10, MAIN))
    for i in range(iterations):
        t = i * 1000 + 5
        tr.ranges.append(HostRange("iter", "PushPop", "", t, t + 900, MAIN))
        tr.api.append(ApiCall("cudaMemcpy", t + 10, t + 50, MAIN, 2 * i))
        tr.ops.append(
            Op(
                "memcpy",
                t + 20,
                t + 40,
                "Host-to-Device",
                bytes=nbytes,
                correlation=2 * i,
                host_memory="pageable",
            )
        )
        tr.api.append(ApiCall("cudaLaunchKernel", t + 60, t + 70, MAIN, 2 * i + 1))
        tr.ops.append(Op("kernel", t + 100, t + 400, "step_kernel", correlation=2 * i + 1))
    return tr


def test_durations_match_nsys_conventions():
    st = durations([100, 200, 600, 900])
    assert st.count == 4 and st.total_s == 1800e-9
    assert st.median_s == pytest.approx(400e-9)  # mean of the two middle values
    assert st.stddev_s * 1e9 == pytest.approx((410_000 / 3) ** 0.5)  # sample (n - 1)
    assert durations([5]).stddev_s == 0.0


def test_running_stats_agree_with_exact_ones():
    vals = [3, 9, 4, 100, 7, 7]
    rs = RunningStats()
    for v in vals:
        rs.add(v)
    assert rs.stats() == durations(vals)
    capped = RunningStats(keep=2)
    for v in vals:
        capped.add(v)
    st = capped.stats()
    assert (st.count, st.min_s, st.max_s) == (6, 3e-9, 100e-9)
    assert st.stddev_s == pytest.approx(durations(vals).stddev_s)


def test_small_copies_in_a_loop_warn_on_the_innermost_range():
    sec = summarize(_loop_trace(25))
    small = [w for w in sec.warnings if w.kind == "small-transfers"]
    assert len(small) == 1
    w = small[0]
    assert (w.range, w.count, w.bytes) == ("iter", 25, 25 * 4096)
    assert "1.0 per entry" in w.message and "4.0 KiB" in w.message
    r = {x.name: x for x in sec.ranges}
    # Inclusive: the outer range counts everything its iterations launched.
    assert r["fit"].copy_count == 25 and r["fit"].kernel_count == 25
    assert r["iter"].copy_count == 25 and r["iter"].time.count == 25
    assert sec.kernels_by_range[0].range == "iter"


def test_few_or_large_copies_do_not_warn():
    assert not [w for w in summarize(_loop_trace(19)).warnings if w.kind == "small-transfers"]
    big = summarize(_loop_trace(30, nbytes=8 << 20))
    assert not [w for w in big.warnings if w.kind == "small-transfers"]
    # 30 x 8 MiB from pageable memory is worth a word, though.
    assert [w.bytes for w in big.warnings if w.kind == "pageable-copies"] == [30 * (8 << 20)]


def test_work_goes_to_the_launching_threads_ranges_only():
    tr = RawTrace()
    tr.ranges.append(HostRange("main_stage", "PushPop", "", 0, 1000, MAIN))
    tr.ranges.append(HostRange("worker_stage", "PushPop", "", 0, 1000, OTHER))
    tr.api.append(ApiCall("cudaLaunchKernel", 100, 110, OTHER, 7))
    # The kernel runs long after the call returned, outside both ranges: still the worker's.
    tr.ops.append(Op("kernel", 5000, 6000, "k", correlation=7))
    sec = summarize(tr)
    r = {x.name: x for x in sec.ranges}
    assert r["worker_stage"].kernel_count == 1 and r["main_stage"].kernel_count == 0


def test_work_outside_every_range_is_reported():
    tr = RawTrace()
    tr.ranges.append(HostRange("stage", "PushPop", "", 0, 100, MAIN))
    tr.api.append(ApiCall("cudaLaunchKernel", 200, 210, MAIN, 1))
    tr.ops.append(Op("kernel", 300, 400, "k", correlation=1))
    sec = summarize(tr)
    assert sec.outside_ranges is not None and sec.outside_ranges.kernel_count == 1
    assert sec.ranges[0].kernel_count == 0
    assert sec.kernels_by_range[0].range == ""


def test_idle_warning_when_the_gpu_mostly_waits():
    tr = RawTrace(window=(0, 100_000_000))
    for i in range(10):  # 1 ms of work every 10 ms
        tr.ops.append(Op("kernel", i * 10_000_000, i * 10_000_000 + 1_000_000, "k"))
    sec = summarize(tr)
    assert sec.idle.busy_s == pytest.approx(0.01) and sec.idle.idle_share == pytest.approx(0.9)
    assert [w.kind for w in sec.warnings] == ["gpu-idle"]
    assert len(sec.idle.gaps) == 10 and sec.idle.gaps[0].seconds == pytest.approx(0.009)


def test_overlapping_gpu_work_is_busy_once():
    tr = RawTrace(window=(0, 1000))
    tr.ops += [
        Op("kernel", 100, 500, "a"),
        Op("kernel", 300, 700, "b"),
        Op("memcpy", 650, 800, "Device-to-Host", bytes=8),
    ]
    sec = summarize(tr)
    assert sec.idle.busy_s == pytest.approx(700e-9)
    assert sec.kernel_s == pytest.approx(800e-9)
