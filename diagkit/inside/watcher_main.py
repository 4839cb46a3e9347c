"""``python -m diagkit.inside.watcher_main SPEC``: ``diag profile --pid`` for a process that
profiles itself. SPEC is JSON: pid, out, events, ready, rate, native, idle, log_level, command.

Started in a session of its own, so a Ctrl-C typed at the process it samples (IPython's
way to stop a cell) does not end the window; the process ends it with SIGINT. A failure is
one line on stderr and status 2: the process reads it and says it to the user.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

EXIT_FAILED = 2


def main(argv: list[str]) -> int:
    from diagkit.errors import DiagError
    from diagkit.run.attach_session import AttachOptions, run_attached
    from diagkit.run.finish import finish
    from diagkit.run.sampling import sampling_for

    # Its process stops it with SIGINT, whatever the process inherited: one started in the
    # background of a shell script ignores SIGINT, and this watcher would ignore it too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    spec = json.loads(argv[1])
    try:
        opts = AttachOptions(
            pid=int(spec["pid"]),
            out_dir=Path(spec["out"]),
            sampling=sampling_for(spec.get("rate"), native=bool(spec.get("native"))),
            command=list(spec.get("command") or []),
            events=Path(spec["events"]),
            ready=Path(spec["ready"]),
        )
        report = run_attached(opts)
        finish(report, opts.out_dir, None)
    except DiagError as exc:
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
