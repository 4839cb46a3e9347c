"""Which (group, period) cells to estimate, against which base period and controls.

This follows R's ``did::att_gt`` cell by cell, so results line up with it:
with a varying base period a pre-treatment cell compares period t with t-1 and a
post-treatment cell compares t with the last period before treatment (less
anticipation); with a universal base period every cell uses that last period and
the reference cell itself is reported as exactly zero.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from estimator_core.errors import PanelDataError, PanelDataWarning
from estimator_core.panel import Panel, subset_periods, subset_units


@dataclass(frozen=True)
class CellPlan:
    """Per-cell arrays, all of length K (number of cells)."""

    group: np.ndarray  # first treated period of the cohort (float)
    time: np.ndarray  # calendar period of the cell (float)
    t_idx: np.ndarray  # index of that period in Panel.times
    base_idx: np.ndarray  # index of the comparison period
    cutoff: np.ndarray  # not-yet-treated controls: units first treated after this value
    reference: np.ndarray  # universal base period's own cell: ATT fixed at 0

    @property
    def size(self) -> int:
        return int(self.group.shape[0])

    @property
    def post(self) -> np.ndarray:
        return self.group <= self.time


def restrict_sample(panel: Panel, control_group: str, anticipation: int) -> Panel:
    """Apply R's sample rules: drop units treated before the panel starts, recode late cohorts."""
    times = panel.times
    group = panel.group.copy()
    late = group > times[-1] + anticipation
    if late.any():
        # Treatment (and its anticipation) falls after the last period, so in this panel the
        # units are never treated; R's did treats them the same way.
        warnings.warn(
            f"{int(late.sum())} units are first treated after the last period; "
            "they are used as never treated",
            PanelDataWarning,
            stacklevel=3,
        )
        group[late] = 0
    early = (group > 0) & (group <= times[0] + anticipation)
    if early.any():
        warnings.warn(
            f"dropped {int(early.sum())} units that were already treated in the first period "
            f"(e.g. ids {panel.ids[early][:5].tolist()})",
            PanelDataWarning,
            stacklevel=3,
        )
    if early.any() or late.any():
        panel = subset_units(panel, ~early, group)
    if panel.n == 0:
        raise PanelDataError("no units are left after dropping those treated in the first period")
    if not np.any(panel.group == 0):
        if control_group == "nevertreated":
            raise PanelDataError(
                "no never-treated units (group value 0) to compare with; "
                "use control_group='notyettreated' or add never-treated units"
            )
        # Not-yet-treated comparisons still work: the last cohort serves as the comparison
        # group and periods from its treatment on are dropped (R's did does the same).
        last = panel.group.max()
        keep_t = panel.times < last - anticipation
        warnings.warn(
            f"no never-treated units: the cohort first treated in {last:g} serves as "
            f"comparison group and periods from {last - anticipation:g} on are dropped",
            PanelDataWarning,
            stacklevel=3,
        )
        group = np.where(panel.group == last, 0.0, panel.group)
        panel = subset_periods(subset_units(panel, np.ones(panel.n, bool), group), keep_t)
        if panel.times.shape[0] < 2:
            raise PanelDataError(
                "fewer than two periods are left before the last cohort is treated"
            )
    if panel.times.shape[0] < 2:
        raise PanelDataError("at least two periods are needed")
    if not np.any(panel.group > 0):
        raise PanelDataError("no treated units: every unit has group value 0")
    return panel


def plan_cells(panel: Panel, base_period: str, anticipation: int) -> CellPlan:
    """List the cells R's did estimates, in its order (by group, then period)."""
    times = panel.times
    n_t = times.shape[0]
    rows: list[tuple[float, float, int, int, float, bool]] = []
    first_t = 1 if base_period == "varying" else 0
    for g in np.unique(panel.group[panel.group > 0]):
        before = np.flatnonzero(times + anticipation < g)
        if before.size == 0:
            warnings.warn(
                f"no pre-treatment period for the group first treated at {g:g}; it is dropped",
                PanelDataWarning,
                stacklevel=3,
            )
            continue
        last_pre = int(before[-1])
        for ti in range(first_t, n_t):
            post = g <= times[ti]
            base = last_pre if base_period == "universal" or post else ti - 1
            later = times[max(ti, base)]
            rows.append((g, times[ti], ti, base, later + anticipation, base == ti))
    if not rows:
        raise PanelDataError("no group-time cells can be estimated")
    cols = list(zip(*rows, strict=True))
    return CellPlan(
        group=np.asarray(cols[0], dtype=np.float64),
        time=np.asarray(cols[1], dtype=np.float64),
        t_idx=np.asarray(cols[2], dtype=np.int64),
        base_idx=np.asarray(cols[3], dtype=np.int64),
        cutoff=np.asarray(cols[4], dtype=np.float64),
        reference=np.asarray(cols[5], dtype=bool),
    )


def cell_members(
    group: np.ndarray, g: float, cutoff: float, never_only: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the cell's treated cohort and its comparison units (over all units)."""
    treated = group == g
    control = group == 0
    if not never_only:
        control = control | ((group > cutoff) & (group != g))
    return treated, control
