"""Cost and exactness of ``diag profile --deep``, side by side with cProfile and kernprof by hand.

    python scripts/bench_deep.py [--rounds 3] [--scale 1] [--only numpy,calls]

Each workload is in this file (``--run NAME SCALE`` runs one) and does fixed work
with known loop counts. Round by round, interleaved, the script runs it:
- bare;
- by hand: ``python -m cProfile -o ...`` and ``kernprof -l`` with ``@profile`` on
  the same functions ``--deep`` traces line by line (what a user would do);
- ``diag profile`` (default) and ``diag profile --deep --lines <same functions>``.

It reports median walls, the tracers pass against cProfile + kernprof by hand
(the target: no more), the memory pass on its own, the share of the known-hot
function in the default run and in the ``--deep`` run's sampled pass (``--deep``
must not change it), and whether every call count and line hit equals the loop
counts the workload was built with.
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()

# --- workloads --------------------------------------------------------------------------------
# Loop counts are module constants so that the checks below can compute exact expectations.

DRAWS, N_CALLS, TEMPS, SMALL, NB_CALLS = 1000, 1_500_000, 6, 200_000, 12


def _by_hand(fn):
    """kernprof -l puts ``profile`` in builtins: decorate as a user would by hand."""
    return builtins.profile(fn) if hasattr(builtins, "profile") else fn  # type: ignore[attr-defined]


def fit_once(x, y, idx):
    xb, yb = x[idx], y[idx]
    return np.linalg.solve(xb.T @ xb, xb.T @ yb)


@_by_hand
def bootstrap(x, y, draws, rng):
    out = []
    for _ in range(draws):
        idx = rng.integers(0, len(y), len(y))
        out.append(fit_once(x, y, idx))
    return np.std(out, axis=0)


def w_numpy(scale: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 8))
    y = x @ np.arange(8.0) + rng.normal(size=20_000)
    bootstrap(x, y, DRAWS * scale, rng)


def _a(v):
    return v + 1


def _b(v):
    return v * 2


@_by_hand
def call_heavy(n):
    s = 0
    for i in range(n):
        s += _b(_a(i))
    return s


@_by_hand
def inline(n):
    s = 0
    for i in range(n):
        s += (i + 1) * 2
    return s


def w_calls(scale: int) -> None:
    call_heavy(N_CALLS * scale)
    inline(N_CALLS * scale)


@_by_hand
def temporaries(k):
    acc = 0.0
    for _ in range(k):
        a = np.ones(8_000_000)  # 64 MB
        acc += float((a * 2.0).sum())
    return acc


def small_objects(n):
    return len([{"i": i, "v": (i, i + 1)} for i in range(n)])


@_by_hand
def peak():
    big = np.ones(64_000_000)  # 512 MB: the peak
    return float(big[::1000].sum())


def w_alloc(scale: int) -> None:
    for _ in range(scale):
        temporaries(TEMPS)
        small_objects(SMALL)
    peak()


def w_numba(scale: int) -> None:
    from numba import njit

    @njit(cache=False)
    def kernel(a):
        s = 0.0
        for i in range(a.shape[0]):
            s += np.sqrt(abs(a[i])) * np.sin(a[i])
        return s

    @_by_hand
    def drive(a, times):
        s = 0.0
        for _ in range(times):
            s += kernel(a)
        return s

    drive(np.random.default_rng(0).normal(size=2_000_000), NB_CALLS * scale)


WORKLOADS = {"numpy": w_numpy, "calls": w_calls, "alloc": w_alloc, "numba": w_numba}
# The functions --deep is asked to trace line by line, as kernprof gets them by hand.
LINES = {
    "numpy": "bootstrap",
    "calls": "call_heavy,inline",
    "alloc": "temporaries,peak",
    "numba": "w_numba.<locals>.drive",
}
HOT = {"numpy": "bootstrap", "calls": "call_heavy", "alloc": "temporaries", "numba": "drive"}


def expected(name: str, scale: int) -> dict[str, object]:
    """Exact facts each workload must produce: (function -> calls), (source line -> hits)."""
    if name == "numpy":
        d = DRAWS * scale
        return {
            "calls": {"fit_once": d, "bootstrap": 1},
            "hits": {"for _ in range(draws):": d + 1, "out.append(fit_once(x, y, idx))": d},
        }
    if name == "calls":
        n = N_CALLS * scale
        return {
            "calls": {"_a": n, "_b": n, "call_heavy": 1, "inline": 1},
            "hits": {"s += _b(_a(i))": n, "s += (i + 1) * 2": n, "for i in range(n):": 2 * (n + 1)},
        }
    if name == "alloc":
        return {
            "calls": {"temporaries": scale, "small_objects": scale, "peak": 1},
            "hits": {"a = np.ones(8_000_000)  # 64 MB": TEMPS * scale},
            "site": "big = np.ones(64_000_000)  # 512 MB: the peak",
        }
    t = NB_CALLS * scale
    return {"calls": {"w_numba.<locals>.drive": 1}, "hits": {"s += kernel(a)": t}}


# --- measuring --------------------------------------------------------------------------------


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(
        cmd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    return time.perf_counter() - t


def _hot_share(rep: dict, name: str) -> float:
    funcs = rep["time"]["functions"]
    return next((f["total_share"] for f in funcs if f["name"].endswith(name)), 0.0)


def check_exact(rep: dict, want: dict) -> list[str]:
    """Every expected count and hit, against the report; the mismatches, as text."""
    bad = []
    calls: dict[str, int] = {}
    for c in rep["deep"]["calls"]:
        if c["file"] == str(HERE):
            calls[c["function"]] = c["calls"]
    for fn, n in want["calls"].items():  # type: ignore[union-attr]
        if calls.get(fn) != n:
            bad.append(f"calls {fn}: {calls.get(fn)} != {n}")
    hits: dict[str, int] = {}
    for prof in rep["deep"]["lines"]:
        for ln in prof["lines"]:
            hits[ln["source"]] = hits.get(ln["source"], 0) + ln["hits"]
    for src, n in want["hits"].items():  # type: ignore[union-attr]
        if hits.get(src) != n:
            bad.append(f"hits {src!r}: {hits.get(src)} != {n}")
    if "site" in want:
        sites = rep["deep"]["allocations"]["sites"]
        if not sites or sites[0]["source"] != want["site"]:
            bad.append(f"top allocation site: {sites[0]['source'] if sites else None!r}")
    return bad


def one_round(name: str, scale: int, tmp: Path) -> dict[str, float]:
    run = [str(HERE), "--run", name, str(scale)]
    py = sys.executable
    out: dict[str, float] = {"bare": _timed([py, *run])}
    out["cprofile"] = _timed([py, "-m", "cProfile", "-o", str(tmp / "hand.pstats"), *run])
    out["kernprof"] = _timed(
        [py, "-m", "kernprof", "-l", "-q", "-o", str(tmp / "hand.lprof"), *run]
    )
    diag = [py, "-m", "diagkit.cli", "profile", "-q"]
    out["diag"] = _timed([*diag, "--out", str(tmp / "d"), *run])
    out["share_default"] = _hot_share(
        json.loads((tmp / "d" / "report.json").read_text()), HOT[name]
    )
    out["diag_deep"] = _timed(
        [*diag, "--deep", "--lines", LINES[name], "--out", str(tmp / "dd"), *run]
    )
    rep = json.loads((tmp / "dd" / "report.json").read_text())
    out["share_deep"] = _hot_share(rep, HOT[name])
    passes = {p["name"]: p["wall_s"] for p in rep["deep"]["passes"]}
    out["tracers"], out["memory"] = passes["tracers"], passes["memory"]
    out["sampled"] = rep["outcome"]["wall_s"]
    bad = check_exact(rep, expected(name, scale))
    out["exact"] = float(not bad)
    for b in bad:
        print(f"  {name}: NOT EXACT: {b}", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--only", default=",".join(WORKLOADS))
    args = ap.parse_args()
    names = args.only.split(",")
    rows: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as d:
        for r in range(args.rounds):
            for name in names:
                rows[name].append(one_round(name, args.scale, Path(d)))
                print(f"round {r + 1}: {name} done", file=sys.stderr)
    med = lambda k, rs: statistics.median(x[k] for x in rs)  # noqa: E731
    print(
        "| workload | bare s | cProfile s | kernprof s | by hand (sum) s | tracers pass s | "
        "tracers / by hand | memory pass s | diag s | diag --deep s | hot share default | "
        "hot share --deep | \\|default − deep\\| | \\|default − default\\| | exact |"
    )
    print("|" + "---|" * 15)
    for name, rs in rows.items():
        hand = med("cprofile", rs) + med("kernprof", rs)
        # --deep must not move the sampled shares by more than runs move on their own.
        moved = statistics.median(abs(x["share_default"] - x["share_deep"]) for x in rs)
        pairs = [(a, b) for i, a in enumerate(rs) for b in rs[i + 1 :]]
        noise = statistics.median(
            [abs(a["share_default"] - b["share_default"]) for a, b in pairs] or [0.0]
        )
        print(
            f"| {name} | {med('bare', rs):.2f} | {med('cprofile', rs):.2f} | {med('kernprof', rs):.2f} "
            f"| {hand:.2f} | {med('tracers', rs):.2f} | {med('tracers', rs) / hand:.2f} "
            f"| {med('memory', rs):.2f} | {med('diag', rs):.2f} | {med('diag_deep', rs):.2f} "
            f"| {med('share_default', rs):.1%} | {med('share_deep', rs):.1%} "
            f"| {moved:.1%} | {noise:.1%} | {sum(x['exact'] for x in rs):.0f}/{len(rs)} |"
        )


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--run":
    import numpy as np

    WORKLOADS[sys.argv[2]](int(sys.argv[3]))
elif __name__ == "__main__":
    main()
