"""The program's own logging records (target/log_records.py), on the report's clock."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LogRecord:
    t: float  # seconds from the program's start
    level: str  # logging's level name: INFO, WARNING, ...
    logger: str
    message: str  # cut at 300 characters
    file: str
    line: int
    thread: str


@dataclass
class LogsSection:
    available: bool = False
    unavailable_reason: str = "not collected in this run"
    level: str = "INFO"  # the lowest level kept
    counts: dict[str, int] = field(default_factory=dict)  # every record at or above it
    records: list[LogRecord] = field(default_factory=list)  # the first 1,000 of them
    total: int = 0
