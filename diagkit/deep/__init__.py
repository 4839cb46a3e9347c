"""``diag profile --deep``: a second run of the program under deterministic tracers.

The parent side (``passes``, ``targets``, ``results``, ``joins``) picks what to
trace from the sampled pass, runs the instrumented passes and folds what they
wrote into the report. The child side (``tracers``, ``allocs``, ``codepatch``,
``memlines``) runs inside the target as extra in-process collectors.
"""
