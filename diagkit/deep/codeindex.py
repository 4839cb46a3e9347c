"""Every code object of a source file, with its line span, found by compiling the file.

The sampled pass names a function by (name, file, a line seen in samples) and
cProfile by (file, first line, co_name); line_profiler and the code patcher need
the exact (file, first line, qualname) of a code object. Compiling the file
once and walking the nested code objects answers all of these without running
any of the program's code.
"""

from __future__ import annotations

import ast
import tokenize
import types
from dataclasses import dataclass
from functools import cache

# Decorators whose function Numba compiles: its Python lines never run once jitted.
JIT_DECORATORS = frozenset(
    {"jit", "njit", "generated_jit", "vectorize", "guvectorize", "cfunc", "stencil"}
)


@dataclass(frozen=True)
class CodeInfo:
    file: str  # as given to ``index_file`` (callers pass real paths)
    qualname: str
    name: str
    first: int  # co_firstlineno: the first decorator's line for a decorated function
    last: int  # the last line of the body, nested functions included
    jitted: bool = False

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.file, self.first, self.qualname)


@cache
def index_file(path: str) -> tuple[CodeInfo, ...]:
    """All code objects in ``path`` (empty when it cannot be read or compiled)."""
    try:
        with tokenize.open(path) as fh:
            source = fh.read()
        code = compile(source, path, "exec", dont_inherit=True)
        tree = ast.parse(source, path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return ()
    jitted = _jitted_lines(tree)
    out: list[CodeInfo] = []
    _walk(code, path, jitted, out)
    return tuple(out)


def _walk(code: types.CodeType, path: str, jitted: set[int], out: list[CodeInfo]) -> int:
    lines = [ln for _, _, ln in code.co_lines() if ln is not None]
    last = max(lines, default=code.co_firstlineno)
    slot = len(out)
    out.append(CodeInfo(path, code.co_qualname, code.co_name, code.co_firstlineno, last))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            last = max(last, _walk(const, path, jitted, out))
    info = out[slot]
    out[slot] = CodeInfo(path, info.qualname, info.name, info.first, last, info.first in jitted)
    return last


def _jitted_lines(tree: ast.AST) -> set[int]:
    """First lines (as co_firstlineno counts them) of functions under a Numba decorator."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.decorator_list:
            continue
        if any(_decorator_name(d) in JIT_DECORATORS for d in node.decorator_list):
            found.add(min(d.lineno for d in node.decorator_list))
    return found


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def containing(path: str, name: str, line: int) -> CodeInfo | None:
    """The innermost code object of ``path`` named ``name`` (qualified or not) that spans ``line``."""
    tail = name.rsplit(".", 1)[-1]
    best: CodeInfo | None = None
    for info in index_file(path):
        if not info.first <= line <= info.last:
            continue
        if info.qualname != name and info.name != tail:
            continue
        if (
            best is None
            or info.first > best.first
            or (info.first == best.first and info.qualname == name)
        ):
            best = info
    return best


def at_first_line(path: str, first: int, name: str) -> CodeInfo | None:
    """The code object cProfile names (file, first line, co_name)."""
    for info in index_file(path):
        if info.first == first and info.name == name:
            return info
    return None
