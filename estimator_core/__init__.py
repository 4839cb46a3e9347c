"""Callaway–Sant'Anna staggered difference-in-differences, as R's ``did`` package computes it.

``att_gt`` estimates group-time average treatment effects (doubly robust, IPW
or outcome regression) with influence-function and multiplier-bootstrap
inference and returns an ``MPResult``; ``aggte`` aggregates one (simple,
dynamic, group, calendar) into an ``AGGTEResult``. Functions, arguments and
result fields are named as in R's did (dots written as underscores) and
moderndid. The core needs only NumPy (diagkit, when installed, names the stages
in a profile); Numba and CuPy backends are picked by ``backend=`` or
``use_backend()``.
"""

from estimator_core.aggte import aggte
from estimator_core.att_gt import att_gt
from estimator_core.backends import available_backends, current_backend, use_backend
from estimator_core.data import SimulatedPanel, load_csv, simulate_panel
from estimator_core.errors import (
    BackendUnavailableError,
    NumericWarning,
    PanelDataError,
    PanelDataWarning,
)
from estimator_core.results import AGGTEResult, MPResult, WaldTest

__all__ = [
    "AGGTEResult",
    "BackendUnavailableError",
    "MPResult",
    "NumericWarning",
    "PanelDataError",
    "PanelDataWarning",
    "SimulatedPanel",
    "WaldTest",
    "aggte",
    "att_gt",
    "available_backends",
    "current_backend",
    "load_csv",
    "simulate_panel",
    "use_backend",
]
