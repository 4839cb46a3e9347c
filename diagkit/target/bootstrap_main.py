"""The target's first file: ``python /path/to/diagkit/target/bootstrap_main.py script|module TARGET ...``.

Run by path rather than with ``-m diagkit.target.bootstrap``: with ``-m`` the working
directory comes first on sys.path, and a folder holding another diagkit (its
source checkout) would be imported instead of the diag that started the run.
The package is loaded from the folder above this file's, so the target runs the same
diagkit as its parent, and no interpreter flag the program could see (``-P``,
``-I``) is needed.
"""

import sys

if not sys.flags.safe_path:
    # python put this file's folder first; nothing may be imported from it as a top-level
    # module. The bootstrap puts in the program's own first entry.
    del sys.path[0]

import importlib.util
import os

_package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "diagkit", os.path.join(_package_dir, "__init__.py"), submodule_search_locations=[_package_dir]
)
assert _spec is not None and _spec.loader is not None
_package = importlib.util.module_from_spec(_spec)
sys.modules["diagkit"] = _package
_spec.loader.exec_module(_package)

from diagkit.target.bootstrap import main  # noqa: E402 - the package must be in place first

main()
