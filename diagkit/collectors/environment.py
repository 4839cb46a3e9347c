"""The environment a run used: interpreter, platform, the packages the program imported, and switches."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import socket
import sys
from collections.abc import Callable, Iterator, Mapping

from diagkit.collectors.distributions import DistributionIndex
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


def host_section() -> EnvironmentSection:
    """A section holding what does not depend on the program; no packages yet."""
    return EnvironmentSection(
        python_version=sys.version.split()[0],
        python_executable=sys.executable,
        platform=platform.platform(),
        machine=platform.machine(),
        hostname=socket.gethostname(),
        cpu_count=os.cpu_count() or 0,
        variables=recorded_variables(os.environ),
    )


class PendingEnvironment:
    """One run's environment section: what ``steps()`` can gather before the program's
    first line (the platform string alone takes ~10 ms: it runs ``uname -p``), and
    ``section``, after its end, the rest."""

    def __init__(self) -> None:
        self.index = DistributionIndex()
        self._host: EnvironmentSection | None = None

    def steps(self) -> Iterator[Callable[[], None]]:
        if self._host is None:
            yield self._take_host
        yield from self.index.steps()

    def _take_host(self) -> None:
        self._host = host_section()

    def section(self, modules: dict[str, str] | None) -> EnvironmentSection:
        host, self._host = self._host, None  # each run's section is its own
        return environment_section(modules, self.index, host)


def environment_section(
    modules: dict[str, str] | None,
    index: DistributionIndex | None = None,
    host: EnvironmentSection | None = None,
) -> EnvironmentSection:
    """``modules``: top-level module name -> file, as the target saw them at exit (None if
    unknown); ``host``: the section ``host_section()`` began, if it was taken already."""
    sec = host or host_section()
    names = [
        mod
        for mod in dict.fromkeys([*ALWAYS, *sorted(modules or {})])
        if mod not in sys.stdlib_module_names
    ]
    dists = (index or DistributionIndex()).get(names)
    wanted: dict[str, list[str]] = {}
    files: dict[str, list[str]] = {}
    for mod in names:
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
    meta = d.metadata  # parsed anew on every look: once here
    return PackageInfo(
        name=meta["Name"] or dist,
        version=meta["Version"],
        location=location,
        editable=editable,
        modules=[m for m in mods if module_files is not None or m in ALWAYS],
    )
