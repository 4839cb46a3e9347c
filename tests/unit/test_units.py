"""One formatter for sizes and one for durations, used by every output that prints them."""

from __future__ import annotations

import pytest

from diagkit.gpu.summary.findings import warnings_for
from diagkit.model.gpu import GpuByteStats, GpuDurationStats, GpuSection, GpuTransfer
from diagkit.render.units import fmt_bytes, fmt_s


@pytest.mark.parametrize(
    ("seconds", "ms", "ns", "s"),
    [
        (0.0, "0.0 ms", "0", "0.0 s"),
        (4e-10, "0.0 ms", "0 ns", "0.0 s"),
        (2.5e-7, "0.0 ms", "250 ns", "0.0 s"),
        (2.5e-5, "0.0 ms", "25.0 µs", "0.0 s"),
        (0.01234, "12.3 ms", "12.34 ms", "0.0 s"),
        (1.5, "1.50 s", "1.50 s", "1.5 s"),
        (75.0, "75.00 s", "75.00 s", "1m15s"),
        (150.0, "2m30.0s", "2m30.0s", "2m30s"),
        (3 * 3600 + 4 * 60 + 5, "184m05.0s", "184m05.0s", "3h04m"),
    ],
)
def test_each_precision_keeps_its_units(seconds, ms, ns, s):
    assert (fmt_s(seconds), fmt_s(seconds, "ns"), fmt_s(seconds, "s")) == (ms, ns, s)


def test_a_duration_that_is_not_a_number_says_so_at_every_precision():
    nan = float("nan")
    assert {fmt_s(nan), fmt_s(nan, "ns"), fmt_s(nan, "s")} == {"n/a"}


def test_a_negative_duration_takes_the_unit_of_its_size():
    assert fmt_s(-5.0) == "-5.00 s" and fmt_s(-5.0, "ns") == "-5.00 s"
    assert fmt_s(-2e-6, "ns") == "-2.0 µs" and fmt_s(-0.5) == "-500.0 ms"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (5 << 30, "5.0 GiB"),
        (3 << 40, "3.0 TiB"),
        (-2048, "-2.0 KiB"),
    ],
)
def test_sizes(n, text):
    assert fmt_bytes(n) == text


def _copies(total: int) -> GpuSection:
    copy = GpuTransfer(
        operation="Host-to-Device",
        time=GpuDurationStats(count=10, total_s=1.0),
        bytes=GpuByteStats(total=total, mean=total / 10),
        share=1.0,
        host_memory={"pageable": 10},
    )
    return GpuSection(copies=[copy])


def test_a_gpu_warning_names_a_terabyte_of_copies_in_tib():
    [warning] = [w for w in warnings_for(_copies(3 << 40), {}) if w.kind == "pageable-copies"]
    assert warning.message.startswith("About 3.0 TiB crossed between host and device")
