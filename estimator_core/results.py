"""Result objects of ``att_gt`` and ``aggte``: arrays first, a readable ``summary()`` on top.

The classes are named as in moderndid (``MPResult``, ``AGGTEResult``; R's ``MP`` and
``AGGTEobj``) and their fields as in R's did, dots written as underscores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from estimator_core import summary as fmt
from estimator_core.stats import norm_ppf


@dataclass(frozen=True)
class WaldTest:
    """Pre-trend test: all pre-treatment ATT(g,t) are zero, chi-square with ``df`` degrees."""

    statistic: float
    df: int
    pvalue: float


@dataclass(frozen=True, eq=False)
class MPResult:
    """Group-time average treatment effects, one entry per (group, t) cell.

    ``inffunc`` is the n x K matrix of influence functions (rows follow ``ids``);
    ``se`` is the bootstrap standard error when ``bstrap`` is true and the analytic
    one (``se_analytical``) otherwise. ``vcov_analytical`` is R's ``V_analytical``
    (inffunc' inffunc / n). ``crit_val`` is R's ``c``, the critical value of the band
    (``ci_lower``, ``ci_upper``) at level ``1 - alp``. ``cband`` is the option as given;
    ``uniform_band`` says whether ``crit_val`` is a sup-t one (that needs the bootstrap).
    ``random_state`` is the bootstrap's seed (``None`` without the bootstrap).
    ``diagnostics`` has one row per cell: status code, units in the cohort, comparison
    units, propensity scores capped, comparison units trimmed, largest propensity score,
    logit Newton steps, and whether the logit converged (see ``estimators``).
    """

    group: np.ndarray
    t: np.ndarray
    att: np.ndarray
    se: np.ndarray
    se_analytical: np.ndarray
    inffunc: np.ndarray = field(repr=False)
    vcov_analytical: np.ndarray = field(repr=False)
    crit_val: float
    wald: WaldTest | None
    n: int
    ids: np.ndarray = field(repr=False)
    unit_group: np.ndarray = field(repr=False)
    glist: np.ndarray
    tlist: np.ndarray
    alp: float
    cband: bool
    uniform_band: bool
    bstrap: bool
    biters: int
    boot_weights: str
    random_state: int | None
    control_group: str
    est_method: str
    base_period: str
    anticipation: int
    covariates: tuple[str, ...]
    backend: str
    diagnostics: np.ndarray = field(repr=False)

    @property
    def ci_lower(self) -> np.ndarray:
        return self.att - self.crit_val * self.se

    @property
    def ci_upper(self) -> np.ndarray:
        return self.att + self.crit_val * self.se

    @property
    def wald_stat(self) -> float | None:
        """R's ``W``: the pre-trend Wald statistic (``None`` without pre-treatment cells)."""
        return None if self.wald is None else self.wald.statistic

    @property
    def wald_pvalue(self) -> float | None:
        """R's ``Wpval``."""
        return None if self.wald is None else self.wald.pvalue

    def summary(self) -> str:
        keys = [
            (fmt.fmt_period(g), fmt.fmt_period(t)) for g, t in zip(self.group, self.t, strict=True)
        ]
        lines = ["Group-Time Average Treatment Effects:"]
        lines += fmt.table(
            keys,
            ("Group", "Time"),
            "ATT(g,t)",
            self.att,
            self.se,
            self.crit_val,
            self.alp,
            self.uniform_band,
        )
        lines += [*fmt.SIGNIF, ""]
        if self.wald is None:
            lines.append("P-value for pre-test of parallel trends assumption:  not available")
        else:
            lines.append(
                "P-value for pre-test of parallel trends assumption:  "
                f"{round(self.wald.pvalue, 5):.5f} (Wald chi2 = {self.wald.statistic:.4f}, "
                f"df = {self.wald.df})"
            )
        lines += fmt.footer(self.control_group, self.anticipation, self.est_method)
        lines.append(
            fmt.inference_line(self.bstrap, self.biters, self.boot_weights, self.random_state)
        )
        lines.append(f"Units: {self.n},  Backend: {self.backend}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True, eq=False)
class AGGTEResult:
    """An aggregation of ATT(g,t): an overall effect and, except for "simple", one per key.

    ``egt`` holds the keys (event times, groups or calendar periods), ``att_egt``
    and ``se_egt`` their estimates and standard errors; ``crit_val_egt`` makes the
    band for them (uniform when ``uniform_band``). ``inf_function`` is the overall
    effect's influence function (length n) and ``inf_function_egt`` the n x len(egt)
    matrix for the keys (R keeps both in the list ``inf.function``).
    """

    type: str
    overall_att: float
    overall_se: float
    egt: np.ndarray
    att_egt: np.ndarray
    se_egt: np.ndarray
    crit_val_egt: float
    inf_function: np.ndarray = field(repr=False)
    inf_function_egt: np.ndarray = field(repr=False)
    alp: float
    cband: bool
    uniform_band: bool
    bstrap: bool
    random_state: int | None
    min_e: float
    max_e: float
    balance_e: int | None
    control_group: str
    est_method: str
    anticipation: int

    @property
    def overall_ci(self) -> tuple[float, float]:
        """Pointwise interval for the overall effect (as R reports it)."""
        z = norm_ppf(1.0 - self.alp / 2.0)
        return self.overall_att - z * self.overall_se, self.overall_att + z * self.overall_se

    @property
    def ci_lower(self) -> np.ndarray:
        return self.att_egt - self.crit_val_egt * self.se_egt

    @property
    def ci_upper(self) -> np.ndarray:
        return self.att_egt + self.crit_val_egt * self.se_egt

    def summary(self) -> str:
        lo, hi = self.overall_ci
        level = f"{100 * (1 - self.alp):g}%"
        star = "*" if lo > 0 or hi < 0 else " "
        lines = [
            f"Overall summary of ATT's based on {fmt.AGG_TITLES[self.type]}:",
            f" {'ATT':>9} {'Std. Error':>11}   [ {level}  Conf. Int.]",
            f" {fmt.fmt_num(self.overall_att, 9)} {fmt.fmt_num(self.overall_se, 11)} "
            f"{fmt.fmt_num(lo, 10)} {fmt.fmt_num(hi, 10)} {star}",
        ]
        if self.type in fmt.AGG_ROWS:
            title, key_name = fmt.AGG_ROWS[self.type]
            keys = [(fmt.fmt_period(e),) for e in self.egt]
            lines += ["", "", title]
            lines += fmt.table(
                keys,
                (key_name,),
                "Estimate",
                self.att_egt,
                self.se_egt,
                self.crit_val_egt,
                self.alp,
                self.uniform_band,
            )
            lines += fmt.SIGNIF
        lines.append("")
        lines += fmt.footer(self.control_group, self.anticipation, self.est_method)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
