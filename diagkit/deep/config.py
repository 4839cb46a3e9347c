"""What the parent tells the deep collectors in the target: one JSON value in DIAGKIT_DEEP."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

ENV = "DIAGKIT_DEEP"
Key = tuple[str, int, str]  # (real path, first line, qualname) of a code object


@dataclass
class DeepRequest:
    """What the user asked for on the command line."""

    lines: list[str] = field(default_factory=list)
    memory_lines: list[str] = field(default_factory=list)
    no_jit: bool = False


@dataclass
class DeepConfig:
    lines: list[Key] = field(default_factory=list)  # line_profiler targets
    memory_lines: list[Key] = field(default_factory=list)  # per-line RSS targets
    log: str = ""  # the program's stdout and stderr go here instead of the terminal
    frames: int = 0  # tracemalloc traceback depth (memory pass)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> DeepConfig:
        raw = json.loads(os.environ.pop(ENV, "{}") or "{}")
        return cls(
            lines=[(f, int(n), q) for f, n, q in raw.get("lines", [])],
            memory_lines=[(f, int(n), q) for f, n, q in raw.get("memory_lines", [])],
            log=raw.get("log", ""),
            frames=int(raw.get("frames", 0)),
        )


def redirect_output(path: str) -> None:
    """Send the program's stdout and stderr to ``path``: the sampled pass already showed them."""
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
