"""The report's fields that take one of a closed set of words, each set named once.

``serde`` reads these as JSON Schema enums: a report whose value is outside the set
is refused with the field's path, as a value of the wrong type is.

Adding a word to a set is a change of type for the diags that read it (they refuse
the word), so it takes a new major ``SCHEMA_VERSION``; narrowing a string field to
a set that holds every word diag has ever written there changes no report.
"""

from __future__ import annotations

from typing import Literal

# What ran: a script path, ``-m module``, a process diag attached to, an imported trace.
TargetKind = Literal["script", "module", "attach", "import", "dask"]
# What diag can start itself.
LaunchKind = Literal["script", "module"]

# How the run ended. ``detached``: diag stopped watching a process that runs on;
# ``imported``: a trace diag read, not a run it saw.
OutcomeKind = Literal[
    "exit", "exception", "signal", "timeout", "interrupted", "detached", "imported"
]

# A sampled function: Python code, or a C/BLAS/Numba frame (``--native``).
CodeKind = Literal["python", "native"]

# Whether a thread's stack moved across dumps (dumping/verdict.py); "": not compared.
Verdict = Literal["", "stuck", "busy", "unchanged", "moving", "started", "ended"]

# The ``--deep`` passes, in the order they run.
DeepPassName = Literal["tracers", "memory"]

# How an NVTX-style range was opened: push/pop on one thread, or start/end by handle;
# "": the work launched while no range was open (``GpuSection.outside_ranges``).
RangeStyle = Literal["", "PushPop", "StartEnd"]

# What a GPU warning is about (gpu/summary/findings.py).
GpuWarningKind = Literal["small-transfers", "gpu-idle", "pageable-copies", "records-dropped"]

# What a finding is about (diagnose/findings.py), and how much it matters.
FindingKind = Literal[
    "numba-compile",
    "imports",
    "hot-function",
    "waiting",
    "invalid-values",
    "memory-peak",
    "gc-pauses",
    "oversubscribed",
    "gil-bound",
    "dask",
    "gpu",
]
Severity = Literal["high", "medium", "low"]
