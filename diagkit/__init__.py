"""diagkit: where did the time go, where did the memory go, what is the GPU doing, where is it stuck.

The package root stays import-light on purpose: estimator code imports it for
``diagkit.range`` and ``diagkit.check_finite``, and that must cost next to nothing
when no ``diag`` run is active.
"""

from diagkit.api import NumericWarning, check_finite, range

__version__ = "0.1.0"
__all__ = ["NumericWarning", "__version__", "check_finite", "range"]
