"""Turn a long panel (pandas, polars or a mapping of columns) into wide NumPy arrays.

Only NumPy is imported here: DataFrames are recognised by what they offer
(``columns``, ``__getitem__``, ``to_numpy``), so neither pandas nor polars is
needed unless the caller already uses one. Every check that fails names the
column and a few unit ids, because "bad input" is only useful with an address.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from estimator_core.errors import PanelDataError

_EXAMPLES = 5


@dataclass(frozen=True)
class Panel:
    """A balanced panel in wide form: periods along the first axis, units along the second."""

    ids: np.ndarray  # (n,) unit identifiers, in the order of the unit axis
    times: np.ndarray  # (T,) sorted distinct periods
    y: np.ndarray  # (T, n) outcome
    group: np.ndarray  # (n,) first treated period, 0 for never treated
    x: np.ndarray | None  # (T, n, k) covariates, or None
    covariate_names: tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])


def _column_names(data: Any) -> list[str]:
    if hasattr(data, "columns"):
        return [str(c) for c in data.columns]
    if isinstance(data, Mapping) or hasattr(data, "keys"):
        return [str(c) for c in data]
    raise TypeError(
        "data must be a pandas or polars DataFrame or a mapping of column name to 1-D array, "
        f"got {type(data).__name__}"
    )


def _raw_column(data: Any, name: str) -> np.ndarray:
    col = data[name]
    if hasattr(col, "to_numpy"):
        col = col.to_numpy()
    arr = np.asarray(col)
    if arr.ndim != 1:
        raise PanelDataError(f"column '{name}' must be one-dimensional, got shape {arr.shape}")
    return arr


def _as_float(arr: np.ndarray, name: str) -> np.ndarray:
    """Numeric column as float64; object columns of numbers and missing markers are accepted."""
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "O":
        out = np.empty(arr.shape[0])
        for i, v in enumerate(arr):
            if v is None or type(v).__name__ in ("NAType", "NaTType"):
                out[i] = np.nan
                continue
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                raise PanelDataError(
                    f"column '{name}' is not numeric: row {i} holds {v!r}"
                ) from None
        return out
    example = arr[:3].tolist()
    raise PanelDataError(f"column '{name}' is not numeric (dtype {arr.dtype}, e.g. {example})")


def _examples(values: np.ndarray) -> str:
    vals = np.asarray(values)[:_EXAMPLES].tolist()
    return ", ".join(repr(v) for v in vals)


def _check_missing(arr: np.ndarray, name: str, ids: np.ndarray, idname: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad)
        kind = "missing" if np.isnan(arr[rows]).all() else "missing or infinite"
        raise PanelDataError(
            f"column '{name}' has {rows.size} {kind} values "
            f"(e.g. {idname} = {_examples(np.unique(ids[rows]))})"
        )


def _ids_column(data: Any, idname: str) -> np.ndarray:
    ids = _raw_column(data, idname)
    if ids.dtype.kind in "biuf":
        if ids.dtype.kind == "f" and np.isnan(ids).any():
            raise PanelDataError(f"column '{idname}' has missing unit ids")
        return ids
    if ids.dtype.kind in "OUS":
        if ids.dtype.kind == "O" and any(v is None for v in ids):
            raise PanelDataError(f"column '{idname}' has missing unit ids")
        return ids
    raise PanelDataError(f"column '{idname}' must hold numbers or strings, got dtype {ids.dtype}")


Wide = Callable[[np.ndarray], np.ndarray]


def _distinct(values: np.ndarray) -> bool:
    # Ids usually arrive sorted, and then a linear scan settles it without a sort.
    if values.shape[0] < 2 or np.all(values[1:] > values[:-1]):
        return True
    return np.unique(values).shape[0] == values.shape[0]


def _layout_unit_major(ids: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, Wide] | None:
    """Reshaper to (T, n) when rows come as complete blocks of one unit each, periods ascending."""
    change = np.flatnonzero(ids != ids[0])
    n_periods = int(change[0]) if change.size else ids.shape[0]
    if n_periods == 0 or ids.shape[0] % n_periods:
        return None
    n_units = ids.shape[0] // n_periods
    id_grid = ids.reshape(n_units, n_periods)
    t_grid = t.reshape(n_units, n_periods)
    first = t_grid[0]
    if n_periods > 1 and not np.all(first[1:] > first[:-1]):
        return None
    if not (np.array_equal(t_grid, np.broadcast_to(first, t_grid.shape))):
        return None
    if not np.array_equal(id_grid, np.broadcast_to(id_grid[:, :1], id_grid.shape)):
        return None
    if not _distinct(id_grid[:, 0]):
        return None
    return first, lambda col: col.reshape(n_units, n_periods).T


def _layout_period_major(ids: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, Wide] | None:
    """Reshaper to (T, n) when rows come as one block per period, units in the same order."""
    change = np.flatnonzero(t != t[0])
    n_units = int(change[0]) if change.size else t.shape[0]
    if n_units == 0 or t.shape[0] % n_units:
        return None
    n_periods = t.shape[0] // n_units
    t_grid = t.reshape(n_periods, n_units)
    id_grid = ids.reshape(n_periods, n_units)
    first = t_grid[:, 0]
    if n_periods > 1 and not np.all(first[1:] > first[:-1]):
        return None
    if not np.array_equal(t_grid, np.broadcast_to(first[:, None], t_grid.shape)):
        return None
    if not np.array_equal(id_grid, np.broadcast_to(id_grid[0], id_grid.shape)):
        return None
    if not _distinct(id_grid[0]):
        return None
    return first, lambda col: col.reshape(n_periods, n_units)


def _layout_general(
    ids: np.ndarray, t: np.ndarray, idname: str, tname: str
) -> tuple[np.ndarray, Wide]:
    uid, unit_of_row = np.unique(ids, return_inverse=True)
    times, period_of_row = np.unique(t, return_inverse=True)
    n_units, n_periods = uid.shape[0], times.shape[0]
    key = unit_of_row.astype(np.int64) * n_periods + period_of_row
    counts = np.bincount(key, minlength=n_units * n_periods)
    if np.any(counts > 1):
        dup = np.flatnonzero(counts > 1)
        pairs = ", ".join(
            f"({uid[k // n_periods].item()!r}, {times[k % n_periods].item():g})"
            for k in dup[:_EXAMPLES]
        )
        raise PanelDataError(
            f"{dup.size} duplicate ({idname}, {tname}) pairs, e.g. {pairs}; "
            "each unit may appear once per period"
        )
    per_unit = np.bincount(unit_of_row, minlength=n_units)
    if np.any(per_unit != n_periods):
        short = np.flatnonzero(per_unit != n_periods)
        raise PanelDataError(
            f"unbalanced panel: {short.size} units are not observed in all {n_periods} periods "
            f"of '{tname}' (e.g. {idname} = {_examples(uid[short])}); "
            "drop or complete them before estimation"
        )
    order = np.empty((n_periods, n_units), dtype=np.int64)
    order[period_of_row, unit_of_row] = np.arange(ids.shape[0])
    return times, lambda col: col[order]


def prepare_panel(
    data: Any,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: Sequence[str] | None = None,
) -> Panel:
    """Validate a long balanced panel and reshape it to (period, unit) arrays."""
    covs = tuple(covariates or ())
    if isinstance(covariates, str):
        covs = (covariates,)
    names = _column_names(data)
    for col in (yname, tname, idname, gname, *covs):
        if col not in names:
            raise PanelDataError(f"column '{col}' is not in the data (columns: {names[:12]})")
    ids = _ids_column(data, idname)
    if ids.shape[0] == 0:
        raise PanelDataError("the data has no rows")
    columns = {c: _as_float(_raw_column(data, c), c) for c in (yname, tname, gname, *covs)}
    for c, arr in columns.items():
        if arr.shape[0] != ids.shape[0]:
            raise PanelDataError(
                f"column '{c}' has {arr.shape[0]} rows, '{idname}' has {ids.shape[0]}"
            )
        _check_missing(arr, c, ids, idname)
    t = columns[tname]
    layout = _layout_unit_major(ids, t) or _layout_period_major(ids, t)
    times, wide = layout if layout is not None else _layout_general(ids, t, idname, tname)
    unit_ids = wide(ids)[0].copy()
    g_grid = wide(columns[gname])
    if g_grid.shape[0] > 1 and not np.array_equal(g_grid, np.broadcast_to(g_grid[0], g_grid.shape)):
        moving = np.flatnonzero(np.any(g_grid != g_grid[0], axis=0))
        raise PanelDataError(
            f"column '{gname}' changes over time within {moving.size} units "
            f"(e.g. {idname} = {_examples(unit_ids[moving])}); "
            "it must hold each unit's first treated period (0 if never treated) in every row"
        )
    group = np.ascontiguousarray(g_grid[0])
    if np.any(group < 0):
        bad = np.flatnonzero(group < 0)
        raise PanelDataError(
            f"column '{gname}' has negative values (e.g. {idname} = {_examples(unit_ids[bad])}); "
            "use 0 for never treated"
        )
    y = np.ascontiguousarray(wide(columns[yname]))
    x = None
    if covs:
        x = np.ascontiguousarray(np.stack([wide(columns[c]) for c in covs], axis=-1))
    return Panel(unit_ids, times, y, group, x, covs)


def subset_units(panel: Panel, keep: np.ndarray, group: np.ndarray | None = None) -> Panel:
    """The same panel restricted to the units where ``keep`` is true."""
    g = panel.group if group is None else group
    x = None if panel.x is None else np.ascontiguousarray(panel.x[:, keep])
    return Panel(
        panel.ids[keep],
        panel.times,
        np.ascontiguousarray(panel.y[:, keep]),
        np.ascontiguousarray(g[keep]),
        x,
        panel.covariate_names,
    )


def subset_periods(panel: Panel, keep: np.ndarray) -> Panel:
    """The same panel restricted to the periods where ``keep`` is true."""
    x = None if panel.x is None else np.ascontiguousarray(panel.x[keep])
    return Panel(
        panel.ids,
        panel.times[keep],
        np.ascontiguousarray(panel.y[keep]),
        panel.group,
        x,
        panel.covariate_names,
    )
