"""``diag dump``: stacks of running processes, repeated, with a verdict on each thread."""
