"""Exceptions and warnings raised by the estimator.

Input problems are ``ValueError`` subclasses so callers that already catch
``ValueError`` keep working; a missing optional backend is an ``ImportError``
subclass because the fix is an install, not different data. The warnings are
the estimator's own, so that filtering or catching them needs nothing but
``estimator_core``.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "NumericWarning",
    "PanelDataError",
    "PanelDataWarning",
]


class PanelDataError(ValueError):
    """The panel cannot be used as given (unbalanced, duplicated, missing or non-numeric values)."""


class PanelDataWarning(UserWarning):
    """The panel was usable, but something was dropped or a cell could not be estimated."""


class NumericWarning(RuntimeWarning):
    """A numeric safeguard fired: non-finite values, clipping, ill-conditioning, a fragile band."""


class BackendUnavailableError(ImportError):
    """A backend was asked for by name but its package (or device) is not available."""
