"""How the program used the machine's cores: its threads against the cores it had."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ThreadCpu:
    """One thread's seconds on a core, and runnable but waiting for one (the kernel's schedstat)."""

    tid: int
    pid: int
    cpu_s: float
    run_wait_s: float
    runs: int = 0  # times the kernel put it on a core


@dataclass
class CpuLoadSection:
    available: bool = False
    unavailable_reason: str = "not collected in this run"
    cores: int = 0  # the cores the program could run on (its CPU affinity)
    peak_processes: int = 0  # the program and its descendants, at most, as diag's polls saw them
    peak_threads: int = 0  # their threads together, at most
    busy_processes: int = 0  # those that used at least a quarter of the busiest one's CPU
    cpu_s: float = 0.0  # on a core, summed over the threads diag read
    run_wait_s: float = 0.0  # runnable but waiting for a core, summed the same way
    # The kernel taking a core from a runnable thread / a thread giving its core up, counted
    # over the program and the children it reaped (0 when attached: no rusage then).
    involuntary_switches: int = 0
    voluntary_switches: int = 0
    # OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, NUMBA_NUM_THREADS as set for it.
    thread_settings: dict[str, str] = field(default_factory=dict)
    threads: list[ThreadCpu] = field(default_factory=list)  # the busiest, at most MAX_THREADS
