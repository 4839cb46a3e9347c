"""Plain-text summaries laid out like R did's ``summary()`` output, so the two read side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CONTROL_LABELS = {"nevertreated": "Never Treated", "notyettreated": "Not Yet Treated"}
METHOD_LABELS = {
    "dr": "Doubly Robust",
    "ipw": "Inverse Probability Weighting",
    "reg": "Outcome Regression",
}
AGG_TITLES = {
    "simple": "simple weighted average",
    "dynamic": "event-study/dynamic aggregation",
    "group": "group/cohort aggregation",
    "calendar": "calendar time aggregation",
}
AGG_ROWS = {
    "dynamic": ("Dynamic Effects:", "Event time"),
    "group": ("Group Effects:", "Group"),
    "calendar": ("Time Effects:", "Time"),
}


def fmt_period(v: float) -> str:
    """Periods print as integers when they are whole numbers (years), else as given."""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def fmt_num(v: float, width: int) -> str:
    return f"{'NA':>{width}}" if v is None or not math.isfinite(v) else f"{v:>{width}.4f}"


def band_label(alp: float, uniform: bool) -> str:
    level = f"{100 * (1 - alp):g}%"
    return f"[{level} {'Simult.' if uniform else 'Pointwise'}  Conf. Band]"


def table(
    keys: Sequence[Sequence[str]],
    key_names: Sequence[str],
    estimate_name: str,
    est: np.ndarray,
    se: np.ndarray,
    crit: float,
    alp: float,
    uniform: bool,
) -> list[str]:
    """Rows of estimates with standard errors and a confidence band, a star where it excludes 0."""
    widths = [
        max(len(name), *(len(k[i]) for k in keys)) if keys else len(name)
        for i, name in enumerate(key_names)
    ]
    head = " ".join(f"{n:>{w}}" for n, w in zip(key_names, widths, strict=True))
    ew = max(len(estimate_name), 9)
    lines = [f" {head} {estimate_name:>{ew}} {'Std. Error':>10} {band_label(alp, uniform)}"]
    for key, e, s in zip(keys, est, se, strict=True):
        lo, hi = e - crit * s, e + crit * s
        star = "*" if math.isfinite(lo) and (lo > 0 or hi < 0) else " "
        k = " ".join(f"{v:>{w}}" for v, w in zip(key, widths, strict=True))
        lines.append(
            f" {k} {fmt_num(e, ew)} {fmt_num(s, 10)} {fmt_num(lo, 12)} {fmt_num(hi, 11)} {star}"
        )
    return lines


def footer(control_group: str, anticipation: int, est_method: str) -> list[str]:
    return [
        f"Control Group:  {CONTROL_LABELS[control_group]},  Anticipation Periods:  {anticipation}",
        f"Estimation Method:  {METHOD_LABELS[est_method]}",
    ]


def inference_line(bstrap: bool, biters: int, weights: str, random_state: int | None) -> str:
    if not bstrap:
        return "Standard errors: analytic (influence functions)"
    return (
        f"Standard errors: multiplier bootstrap, {biters} draws, "
        f"{weights.capitalize()} weights, seed {random_state}"
    )


SIGNIF = ["---", "Signif. codes: `*' confidence band does not cover 0"]
