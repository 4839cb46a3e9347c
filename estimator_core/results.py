"""Result objects of ``att_gt`` and ``aggte``: arrays first, a readable ``summary()`` on top."""

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
class ATTgtResult:
    """Group-time average treatment effects, one entry per (group, t) cell.

    ``inf_func`` is the n x K matrix of influence functions (rows follow ``ids``);
    ``se`` is the bootstrap standard error when ``boot`` is true and the analytic
    one (``se_analytic``) otherwise. ``vcov_analytic`` is R's ``V_analytic``
    (inf_func' inf_func / n). ``cband`` is the option as given; ``uniform_band``
    says whether ``critical_value`` is a sup-t one (that needs the bootstrap).
    ``diagnostics`` has one row per cell: status code, units in the cohort, comparison
    units, propensity scores capped, comparison units trimmed, largest propensity score,
    logit Newton steps, and whether the logit converged (see ``estimators``).
    """

    group: np.ndarray
    t: np.ndarray
    att: np.ndarray
    se: np.ndarray
    se_analytic: np.ndarray
    inf_func: np.ndarray = field(repr=False)
    vcov_analytic: np.ndarray = field(repr=False)
    critical_value: float
    wald: WaldTest | None
    n: int
    ids: np.ndarray = field(repr=False)
    unit_group: np.ndarray = field(repr=False)
    glist: np.ndarray
    tlist: np.ndarray
    alpha: float
    cband: bool
    uniform_band: bool
    boot: bool
    biters: int
    boot_weights: str
    seed: int | None
    control_group: str
    est_method: str
    base_period: str
    anticipation: int
    covariates: tuple[str, ...]
    backend: str
    diagnostics: np.ndarray = field(repr=False)

    @property
    def ci_lower(self) -> np.ndarray:
        return self.att - self.critical_value * self.se

    @property
    def ci_upper(self) -> np.ndarray:
        return self.att + self.critical_value * self.se

    @property
    def wald_pvalue(self) -> float | None:
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
            self.critical_value,
            self.alpha,
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
        lines.append(fmt.inference_line(self.boot, self.biters, self.boot_weights, self.seed))
        lines.append(f"Units: {self.n},  Backend: {self.backend}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True, eq=False)
class AggteResult:
    """An aggregation of ATT(g,t): an overall effect and, except for "simple", one per key.

    ``egt`` holds the keys (event times, groups or calendar periods), ``att_egt``
    and ``se_egt`` their estimates; ``critical_value`` makes the uniform band
    for them. ``inf_func`` is the overall effect's influence function (length n)
    and ``inf_func_egt`` the n x len(egt) matrix for the keys.
    """

    type: str
    overall_att: float
    overall_se: float
    egt: np.ndarray
    att_egt: np.ndarray
    se_egt: np.ndarray
    critical_value: float
    inf_func: np.ndarray = field(repr=False)
    inf_func_egt: np.ndarray = field(repr=False)
    alpha: float
    cband: bool
    uniform_band: bool
    boot: bool
    seed: int | None
    min_e: float
    max_e: float
    balance_e: int | None
    control_group: str
    est_method: str
    anticipation: int

    @property
    def overall_ci(self) -> tuple[float, float]:
        """Pointwise interval for the overall effect (as R reports it)."""
        z = norm_ppf(1.0 - self.alpha / 2.0)
        return self.overall_att - z * self.overall_se, self.overall_att + z * self.overall_se

    @property
    def ci_lower(self) -> np.ndarray:
        return self.att_egt - self.critical_value * self.se_egt

    @property
    def ci_upper(self) -> np.ndarray:
        return self.att_egt + self.critical_value * self.se_egt

    def summary(self) -> str:
        lo, hi = self.overall_ci
        level = f"{100 * (1 - self.alpha):g}%"
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
                self.critical_value,
                self.alpha,
                self.uniform_band,
            )
            lines += fmt.SIGNIF
        lines.append("")
        lines += fmt.footer(self.control_group, self.anticipation, self.est_method)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
