"""The environment a run used: interpreter, platform, the packages the program imported, and switches."""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import json
import os
import platform
import socket
import sys
import threading
from collections.abc import Mapping

from diagkit.collectors.threads import start_daemon
from diagkit.model.report import EnvironmentSection, PackageInfo

# diag's own version is in every report; any other package only when the program imported it.
ALWAYS = ("diagkit",)
_VAR_PREFIXES = ("NUMBA_", "CUDA_", "CUPY_", "NVIDIA_", "OMP_", "MKL_", "OPENBLAS_", "NVTX_")
_VARS = (
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "PYTHONWARNINGS",
    "PYTHONOPTIMIZE",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
)
# A report is meant to be shared: values of variables named like these are never written.
_SECRET_WORDS = ("TOKEN", "SECRET", "KEY", "PASSWORD", "CREDENTIAL")
REDACTED = "<redacted>"


def recorded_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The switches a report records from ``env``, secrets' values replaced by REDACTED."""
    return {
        k: REDACTED if any(w in k.upper() for w in _SECRET_WORDS) else v
        for k, v in sorted(env.items())
        if k.startswith(_VAR_PREFIXES) or k in _VARS
    }


class DistributionIndex:
    """Which installed distributions provide which top-level modules.

    Building it reads every installed package's metadata (~0.1 s), so it is
    started in a thread when the target starts and is ready when the target ends.
    """

    def __init__(self) -> None:
        self._result: dict[str, list[str]] = {}
        self._thread = start_daemon(self._build_aside, "diag-dists")

    def _build_aside(self) -> None:
        # Lowest priority for this thread alone: it must not take CPU from the target.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        self._build()

    def _build(self) -> None:
        try:
            self._result = dict(md.packages_distributions())
        except Exception:  # broken metadata somewhere in site-packages: fall back to names
            self._result = {}

    def get(self) -> dict[str, list[str]]:
        if self._thread is None:
            self._build()  # no thread for it: built now, after the target, at the same cost
        else:
            self._thread.join()
        return self._result


def environment_section(
    modules: dict[str, str] | None, index: DistributionIndex | None = None
) -> EnvironmentSection:
    """``modules``: top-level module name -> file, as the target saw them at exit (None if unknown)."""
    sec = EnvironmentSection(
        python_version=sys.version.split()[0],
        python_executable=sys.executable,
        platform=platform.platform(),
        machine=platform.machine(),
        hostname=socket.gethostname(),
        cpu_count=os.cpu_count() or 0,
        variables=recorded_variables(os.environ),
    )
    dists = (index or DistributionIndex()).get()
    wanted: dict[str, list[str]] = {}
    files: dict[str, list[str]] = {}
    names = dict.fromkeys([*ALWAYS, *sorted(modules or {})])
    for mod in names:
        if mod in sys.stdlib_module_names:
            continue
        for dist in dists.get(mod, [mod] if mod in ALWAYS else []):
            wanted.setdefault(dist, []).append(mod)
            if modules and mod in modules:
                files.setdefault(dist, []).append(modules[mod])
    for dist, mods in wanted.items():
        info = _package(dist, mods, files.get(dist))
        if info is not None:
            sec.packages.append(info)
    if modules is None:
        sec.unavailable_reason = "the program's imports are unknown (it did not exit normally)"
    return sec


def _import_root(module_file: str) -> str:
    """The folder a top-level module was imported from (a package's parent folder)."""
    folder = os.path.dirname(module_file)
    return os.path.dirname(folder) if os.path.basename(module_file) == "__init__.py" else folder


def _package(dist: str, mods: list[str], module_files: list[str] | None) -> PackageInfo | None:
    try:
        d = md.distribution(dist)
    except md.PackageNotFoundError:
        if dist in ALWAYS:
            return PackageInfo(name=dist, version="not installed", location="", modules=[])
        return None
    editable = False
    try:
        direct = d.read_text("direct_url.json")
        if direct:
            editable = bool(json.loads(direct).get("dir_info", {}).get("editable"))
    except (OSError, ValueError):
        pass
    # One distribution may hold several top-level packages (diagkit and estimator_core here):
    # its location is the folder they were imported from, not one of the packages.
    roots = [_import_root(f) for f in module_files or []]
    try:
        location = os.path.commonpath(roots) if roots else str(d.locate_file(""))
    except ValueError:  # relative and absolute paths mixed
        location = roots[0]
    return PackageInfo(
        name=d.metadata["Name"] or dist,
        version=d.version,
        location=location,
        editable=editable,
        modules=[m for m in mods if module_files is not None or m in ALWAYS],
    )
