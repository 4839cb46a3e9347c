"""What a long `diag profile` run costs in memory and disk: peak RSS of diag and py-spy, the
channel folder's peak size and the report folder's files, polled every 0.5 s; and diag's
seconds beyond the program's own wall time (start-up, the last chunk, the report).

    python scripts/bench_long_run.py --seconds 120
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import psutil

# Call-heavy work whose stack changes at every sample: 3 to 43 frames deep.
WORK = """
import sys, time
def leaf(i): return i * 2
def mid(i): return leaf(i) + leaf(i + 1)
def top(n):
    s = 0
    for i in range(n):
        s += mid(i)
    return s
def deep(d, n):
    return top(n) if d == 0 else deep(d - 1, n)
end = time.time() + float(sys.argv[1])
k = 0
while time.time() < end:
    deep(k % 40, 2000)
    k += 1
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="bench-long-")
    work, tmp, out = (os.path.join(root, n) for n in ("work.py", "tmp", "r"))
    os.mkdir(tmp)
    with open(work, "w") as fh:
        fh.write(WORK)
    diag = [sys.executable, "-m", "diagkit.cli", "profile", "-q", "--out", out, work]
    t0 = time.monotonic()
    proc = subprocess.Popen([*diag, str(args.seconds)], env={**os.environ, "TMPDIR": tmp})
    peak = {"diag": 0, "py-spy": 0}
    channel = 0
    while proc.poll() is None:
        try:
            me = psutil.Process(proc.pid)
            peak["diag"] = max(peak["diag"], me.memory_info().rss)
            for kid in me.children(recursive=True):
                if "py-spy" in kid.name():
                    peak["py-spy"] = max(peak["py-spy"], kid.memory_info().rss)
        except psutil.Error:
            pass
        files = glob.glob(os.path.join(tmp, "diagkit-run-*", "*"))
        channel = max(channel, sum(os.path.getsize(f) for f in files if os.path.isfile(f)))
        time.sleep(0.5)
    mb = 2**20
    wall = time.monotonic() - t0
    with open(os.path.join(out, "report.json")) as fh:
        report = json.load(fh)
    t = report["time"]
    print(
        json.dumps(
            {
                "wall_s": round(wall, 1),
                "beyond_program_s": round(wall - report["outcome"]["wall_s"], 2),
                "peak_rss_mb": {k: round(v / mb, 1) for k, v in peak.items()},
                "channel_folder_peak_mb": round(channel / mb, 2),
                "files_mb": {
                    os.path.basename(f): round(os.path.getsize(f) / mb, 2)
                    for f in sorted(glob.glob(os.path.join(out, "*")))
                },
                "chunks": t.get("chunks"),
                "samples": t["samples"],
                "failed_reads": t["sample_errors"],
                "seams_s": round(t.get("seams_s") or 0.0, 3),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
