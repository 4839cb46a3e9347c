"""Exceptions and warnings raised by the estimator.

Input problems are ``ValueError`` subclasses so callers that already catch
``ValueError`` keep working; a missing optional backend is an ``ImportError``
subclass because the fix is an install, not different data.
"""

from __future__ import annotations

from diagkit import NumericWarning

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


class BackendUnavailableError(ImportError):
    """A backend was asked for by name but its package (or device) is not available."""
