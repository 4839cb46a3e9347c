"""Samples inside Numba's compiler, shown as the compile they are part of.

A first call of an ``@njit`` function runs Numba's and llvmlite's Python code for seconds:
counted as they are, the tables are led by ``_lib_fn_wrapper.__call__`` and the compiler's
passes instead of the program's. The target records, for each outermost compile, the
program's line that called the dispatcher (``JitCompile.caller_file``/``caller_line``);
here each sample whose stack enters Numba or llvmlite right below such a line gets one
frame named for what compiled there, ``[numba compile] module:function (signature)``:

- for the tables (``fold_for_tables``) the stack ends at that frame, so the compile is one
  function row, its time is the calling line's, and no row of the compiler's own holds it;
- for the flame graph (``fold_for_flame``) the compiler's frames stay under that frame, so
  the page can open the compile up.

profile.speedscope.json keeps the raw stacks.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from diagkit.collectors.sample_stacks import rewrite_stacks
from diagkit.model.report import JitCompile

COMPILE_FILE = "<numba compile>"
UNRECORDED = "[numba compile or cache load]"
_COMPILER = re.compile(r"[/\\](numba|llvmlite)[/\\]")
# Where a stack enters the compiler on a call that compiles (numba/core/dispatcher.py).
_ENTRY_NAMES = ("_compile_for_args", "Dispatcher.compile", "compile")


def compile_names(compiles: list[JitCompile]) -> dict[tuple[str, int], str]:
    """The frame name for each calling line: the functions it compiled, and the signature
    when one was compiled there, the count of signatures when several were."""
    by_line: dict[tuple[str, int], dict[str, list[str]]] = defaultdict(dict)
    for c in compiles:
        if c.caller_file:
            sigs = by_line[c.caller_file, c.caller_line].setdefault(c.function, [])
            if c.signature not in sigs:
                sigs.append(c.signature)
    names = {}
    for key, funcs in by_line.items():
        parts = []
        for func, sigs in funcs.items():
            if len(sigs) == 1 and sigs[0]:
                parts.append(f"{func} {sigs[0]}")
            else:
                parts.append(f"{func} ({len(sigs)} signatures)" if len(sigs) > 1 else func)
        names[key] = "[numba compile] " + ", ".join(parts)
    return names


def _fold(doc: dict[str, Any], compiles: list[JitCompile], keep_compiler: bool) -> dict[str, Any]:
    names = compile_names(compiles)
    frames: list[dict[str, Any]] = doc.get("shared", {}).get("frames", [])
    return rewrite_stacks(
        doc,
        COMPILE_FILE,
        lambda stack, frame: _folded_stack(stack, frames, names, frame, keep_compiler),
    )


def _folded_stack(
    stack: list[int],
    frames: list[dict[str, Any]],
    names: dict[tuple[str, int], str],
    frame_for: Callable[[str], int],
    keep_compiler: bool,
) -> list[int] | None:
    """The stack with its compile frame put in, or None where it is not inside a compile."""
    for i, fi in enumerate(stack):
        if not _COMPILER.search(frames[fi].get("file") or ""):
            continue
        if i == 0 or not frames[stack[i - 1]].get("file"):
            # A read that raced the stack's change keeps only its innermost frames (below
            # py-spy's own, which have no file); ``torn_reads`` gives most back to the stack
            # before them, and one it could not place is still compile time.
            name = UNRECORDED
        else:
            caller = frames[stack[i - 1]]
            name = names.get((caller.get("file") or "", int(caller.get("line") or 0))) or ""
        if not name:
            # No compile recorded for the line: a load from Numba's cache (which fires no
            # compile event), or a compile diag could not hear (attached by pid).
            entry = frames[fi].get("name") or ""
            if not entry.endswith(_ENTRY_NAMES):
                return None
            name = UNRECORDED
        node = frame_for(name)
        return [*stack[:i], node, *stack[i:]] if keep_compiler else [*stack[:i], node]
    return None


def fold_for_tables(doc: dict[str, Any], compiles: list[JitCompile]) -> dict[str, Any]:
    """Stacks inside a compile end at the compile's frame."""
    return _fold(doc, compiles, keep_compiler=False)


def fold_for_flame(doc: dict[str, Any], compiles: list[JitCompile]) -> dict[str, Any]:
    """Stacks inside a compile get the compile's frame above the compiler's own."""
    return _fold(doc, compiles, keep_compiler=True)
