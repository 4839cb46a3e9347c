"""``diag profile --deep``: a second run of the program under deterministic tracers.

The parent side (``targets``, ``results``, ``joins``) picks what to trace from the
sampled pass and folds what the instrumented passes wrote into the report; the
passes themselves are sessions, run by ``diagkit.run.deep_passes``. The child side
(``tracers``, ``allocs``, ``codepatch``, ``memlines``) runs inside the target as
extra in-process collectors.
"""
