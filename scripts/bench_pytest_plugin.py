"""What the pytest plugin costs a session: the same two tests (0.6 s and 0.2 s of work) run
with the plugin turned off (``-p no:diagkit``), installed but not asked for, and with
``--diag``; interleaved, 5 rounds, medians.

    python scripts/bench_pytest_plugin.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = """
import time

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def test_slow():
    spin(0.6)

def test_fast():
    spin(0.2)
"""


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="diag-bench-pytest-"))
    (folder / "test_est.py").write_text(TESTS)
    modes = {
        "-p no:diagkit": ["-p", "no:diagkit"],
        "installed, not asked": [],
        "--diag": ["--diag", "--diag-out", str(folder / "report")],
    }
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(5):
        for mode, extra in modes.items():
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
                cwd=folder,
                capture_output=True,
                check=True,
            )
            times[mode].append(time.perf_counter() - t0)
    base = statistics.median(times["-p no:diagkit"])
    for mode, ts in times.items():
        m = statistics.median(ts)
        print(f"{mode:>22}: {m:.3f} s ({m / base:.3f}x)")


if __name__ == "__main__":
    main()
