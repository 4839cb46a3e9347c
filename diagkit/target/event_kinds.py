"""The kinds of record the program's side writes to the channel (``Channel.emit``), named once.

The collectors inside the program and the readers in diag (collectors/inproc_results.py,
the ``--deep`` passes) both name a kind through ``EventKind``, so a misspelt kind fails
where it is written (an AttributeError, a mypy error) instead of being a record that
no reader picks up. The values are plain strings: emitting one costs what a literal does.

Standard library only: this runs inside the user's program.
"""

from __future__ import annotations

from typing import Final


class EventKind:
    """One name per kind of channel record; the value is the record's ``k``."""

    # The run (target/bootstrap.py)
    START: Final = "start"  # the program's first line is next: t, cpu
    EXIT: Final = "exit"  # the program ended by itself: code
    EXCEPTION: Final = "exception"  # an uncaught exception: type, message, traceback, where
    BAD_TARGET: Final = "bad_target"  # the script or module could not be started: message
    MODULES: Final = "modules"  # the top-level modules imported, and their files
    END: Final = "end"  # the collectors finished: nothing after this was lost

    # What the channel and the collectors say about themselves (read into the report's notes)
    COLLECTOR_ERROR: Final = "collector_error"  # a collector failed and was stopped: where, error
    CHANNEL_REOPENED: Final = "channel_reopened"  # the program closed diag's descriptor: fd
    STACK_FILE_REFUSED: Final = "stack_file_refused"  # no stack file for diag dump: reason

    # Warnings (target/warnings_counter.py)
    WARNING: Final = "warning"  # the first of one kind: category, message, file, line
    WARNING_COUNTS: Final = "warning_counts"  # every kind's count, at exit

    # diagkit.range stages (target/ranges.py)
    RANGES: Final = "ranges"  # closed ranges, in batches
    RANGE_STATS: Final = "range_stats"  # per-name totals, at exit

    # Numba (target/numba_events.py)
    JIT_READY: Final = "jit_ready"  # numba was imported and is listened to: version
    JIT_UNAVAILABLE: Final = "jit_unavailable"  # numba's events cannot be listened to: reason
    COMPILE: Final = "compile"  # one compilation: function, signature, times
    JIT_CACHE: Final = "jit_cache"  # per-function cache hits and misses, at exit

    # The program's logging records (target/log_records.py)
    LOGS: Final = "logs"  # counts by level and the first records kept, at exit

    # Garbage collection (target/gc_watch.py)
    GC: Final = "gc"  # per-generation collections and pauses, the longest pauses, at exit

    # The --deep passes (deep/tracers.py, deep/allocs.py)
    DEEP_PSTATS: Final = "deep_pstats"  # cProfile's stats were written: path
    DEEP_SEEN: Final = "deep_seen"  # the functions that ran under the tracers
    DEEP_LINES: Final = "deep_lines"  # line_profiler's results: lprof, functions
    DEEP_MEMORY_LINES: Final = "deep_memory_lines"  # per-line RSS increments
    DEEP_JITTED: Final = "deep_jitted"  # the functions numba compiled
    DEEP_ALLOC: Final = "deep_alloc"  # tracemalloc's peak and the sites live near it
