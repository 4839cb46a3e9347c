"""Which installed distributions provide a module, as importlib.metadata's
``packages_distributions()`` has it, read without slowing the program or keeping diag waiting.

``packages_distributions()`` reads every installed distribution's top_level.txt, or, where
there is none (wheels built by hatchling, flit, meson...), its whole RECORD, one path object
per file: ~25 ms of CPU with a hundred packages, of which a run needs a handful. So the
cheap reads are done one distribution per step of ``steps()``, which diag runs where its
time is free (while the program starts: ``Launch.overlap``); after the program's end,
importlib.metadata's own rules read a RECORD's lines only where they name one of the
modules asked for. None of it competes with the program, and a distribution's name is
read only when it provides such a module.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# The rules packages_distributions() applies to one distribution (private: where they are
# missing, the whole map is read at once).
_DECLARED: Callable[[md.Distribution], list[str]] | None = getattr(md, "_top_level_declared", None)
_INFERRED: Callable[[md.Distribution], Iterable[str]] | None = getattr(
    md, "_top_level_inferred", None
)
# Every name those rules take from a RECORD is a whole path component or a file name cut at
# a dot: in the file it follows the start of a line, a "/" or a quote, and ends at a "/", a
# dot or the end of the field (a comma, a quote, the line's end; lines as str.splitlines).
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_BEFORE = '/"' + _BREAKS
_AFTER = '/.,"' + _BREAKS


class DistributionIndex:
    """``steps()`` to run ahead, where there is time; ``get`` for the answer."""

    def __init__(self) -> None:
        self._left: Iterator[md.Distribution] | None = None
        # (distribution, its top_level.txt names, or else its RECORD: None where it has none)
        self._read: list[tuple[md.Distribution, list[str], str | None]] = []
        self._whole: dict[str, list[str]] | None = None  # where the rules are missing
        self._done = False
        self._broken = False  # broken metadata somewhere in site-packages: fall back to names

    def steps(self) -> Iterator[Callable[[], None]]:
        while not self._done:
            yield self._step

    def _step(self) -> None:
        try:
            if _DECLARED is None or _INFERRED is None:
                self._whole, self._done = dict(md.packages_distributions()), True
                return
            if self._left is None:
                self._left = iter(md.distributions())
            dist = next(self._left, None)
            if dist is None:
                self._done = True
                return
            declared = _DECLARED(dist)
            record = None if declared else dist.read_text("RECORD") or None
            self._read.append((dist, declared, record))
        except Exception:
            self._done = self._broken = True

    def get(self, modules: Iterable[str]) -> dict[str, list[str]]:
        """``packages_distributions()`` for ``modules`` alone: module -> distribution names."""
        while not self._done:
            self._step()
        wanted = set(modules)
        if self._whole is not None:
            return {m: names for m, names in self._whole.items() if m in wanted}
        found: dict[str, list[str]] = {}
        if not wanted or self._broken:
            return found
        named = _record_search(wanted)
        try:
            for dist, declared, record in self._read:
                tops: Iterable[str] = declared
                if declared:
                    pass
                elif record is not None and named is not None and '"' not in record:
                    tops = _credited(dist, record, named)
                else:  # egg-info, a name the search cannot take, quoted paths: read it whole
                    assert _INFERRED is not None
                    tops = _INFERRED(dist)
                for top in tops:
                    if top in wanted:
                        found.setdefault(top, []).append(dist.metadata["Name"])
        except Exception:
            return {}
        return found


def _record_search(names: set[str]) -> re.Pattern[str] | None:
    """A search that finds each of ``names`` wherever a RECORD could credit it as a top-level
    module; None where a name holds one of the characters it relies on (every RECORD is
    then read in full)."""
    if any(not n or any(c in _AFTER for c in n) for n in names):
        return None
    # Each name first, then what must come before it: re finds a leading literal fast.
    before, after = re.escape(_BEFORE), re.escape(_AFTER)
    alternatives = "|".join(rf"{re.escape(n)}(?<![^{before}]{re.escape(n)})" for n in sorted(names))
    return re.compile(rf"(?:{alternatives})(?=[{after}]|\Z)")


def _credited(dist: md.Distribution, record: str, named: re.Pattern[str]) -> set[str]:
    """The names ``named`` finds in ``record`` that the rules credit ``dist`` with.

    A line credits a name only if the name is found in it, so the rules need read those
    lines alone, and only until each name is credited: a name's first line, then twice as
    many each round (a distribution names the module it provides on most of its lines).
    """
    assert _INFERRED is not None
    found: dict[str, list[int]] = {}  # name -> where it was found
    for match in named.finditer(record):
        found.setdefault(match.group(), []).append(match.start())
    breaks = [c for c in _BREAKS if c in record]

    def line(at: int) -> str:
        start = max(record.rfind(c, 0, at) for c in breaks) + 1 if breaks else 0
        ends = [i for i in (record.find(c, at) for c in breaks) if i >= 0]
        return record[start : min(ends, default=len(record))]

    credited: set[str] = set()
    read, chunk = 0, 1
    while doubt := [name for name, places in found.items() if len(places) > read]:
        lines = dict.fromkeys(line(at) for name in doubt for at in found[name][read : read + chunk])
        credited |= set(_INFERRED(_Lines(dist, "\n".join(lines)))) & found.keys()
        found = {name: places for name, places in found.items() if name not in credited}
        read, chunk = read + chunk, chunk * 2
    return credited


class _Lines(md.Distribution):
    """``dist`` as if its RECORD held ``record`` alone."""

    def __init__(self, dist: md.Distribution, record: str) -> None:
        self._dist, self._record = dist, record

    def read_text(self, filename: str) -> str | None:
        return self._record if filename == "RECORD" else self._dist.read_text(filename)

    def locate_file(self, path: str | os.PathLike[str]) -> Any:
        return self._dist.locate_file(path)
