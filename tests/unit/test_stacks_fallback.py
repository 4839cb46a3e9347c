"""The faulthandler fallback's text, parsed: one thread per block, its frames most recent first."""

from __future__ import annotations

import os

from diagkit.collectors.stacks import parse_faulthandler


def test_parse_faulthandler_text():
    text = (
        "Thread 0x00007f0000000001 (most recent call first):\n"
        '  File "/app/a.py", line 3 in wait\n'
        '  File "/app/a.py", line 9 in <module>\n'
        "\n"
        "Current thread 0x00007f0000000002 (most recent call first):\n"
        '  File "/app/b.py", line 12 in spin\n'
    )
    threads = parse_faulthandler(text)
    assert [(t.thread_id, t.name) for t in threads] == [
        (0x7F0000000001, "Thread"),
        (0x7F0000000002, "Current thread"),
    ]
    assert [(f.function, f.line) for f in threads[0].frames] == [("wait", 3), ("<module>", 9)]
    assert os.path.basename(threads[1].frames[0].file) == "b.py"
