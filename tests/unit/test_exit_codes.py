"""diag's exit statuses: one enum, the numbers the guide promises, each error kind with its own."""

from __future__ import annotations

import re

import pytest

from diagkit.errors import (
    BadTarget,
    DiagError,
    ExitCode,
    NotPython,
    TargetBusy,
    TargetGone,
    TargetRefused,
    UsageError,
)
from tests.conftest import ROOT


def _promised() -> set[int]:
    """The plain numbers in the guide's exit status table (not "128+N", not "the program's")."""
    guide = (ROOT / "docs" / "guide.md").read_text()
    table = guide.split("**Exit status.**", 1)[1].split("\n\n", 2)[1]
    firsts = [row.split("|")[1] for row in table.splitlines()[2:]]
    return {int(n) for cell in firsts for n in re.findall(r"(?<![+\d])\d+(?![+\d])", cell)}


def test_every_status_diag_chooses_is_one_the_guide_promises():
    assert _promised() == {code.value for code in ExitCode if code is not ExitCode.OK}
    assert _promised() == {1, 2, 3, 4, 5, 124, 129, 130, 143}  # as they always were


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (DiagError, 2),
        (UsageError, 2),
        (BadTarget, 2),
        (TargetGone, 3),
        (NotPython, 3),
        (TargetRefused, 4),
        (TargetBusy, 5),
    ],
)
def test_each_kind_of_error_carries_its_status_whatever_it_says(kind, status):
    for words in ("refused access", "another tracer holds it", "bad target: x", "anything"):
        err = kind(words)
        assert (err.exit_code, err.message, str(err)) == (status, words, words)


def test_a_status_no_kind_knows_is_given_with_the_message():
    assert DiagError("the report was lost", 7).exit_code == 7  # the program's own status


def test_a_stop_signal_gives_128_plus_its_number():
    import signal

    assert ExitCode.told_to_stop(signal.SIGTERM) is ExitCode.SIGTERM == 143
    assert ExitCode.told_to_stop(signal.SIGHUP) is ExitCode.SIGHUP == 129
    assert ExitCode.told_to_stop(signal.SIGINT) is ExitCode.SIGINT == 130


@pytest.mark.parametrize(
    ("why", "status"),
    [
        (TargetRefused("the kernel said no"), 4),
        (TargetBusy("held at each try"), 5),
        (NotPython("no interpreter"), 3),
        # The words of a refusal or of another tracer, without the kind: neither is one.
        (DiagError("py-spy was refused access to it"), 3),
        (DiagError("py-spy could not pause it: another tracer holds it"), 3),
    ],
)
def test_a_failed_dump_takes_its_status_from_the_kind_of_failure(why, status):
    import psutil

    from diagkit.dumping.rounds import Dumped, _failed
    from diagkit.model.dump import ProcessDump

    me = psutil.Process()  # alive and readable: the failure alone decides
    item = Dumped(me, ProcessDump(pid=me.pid))
    _failed(item, why, 0, 1)
    assert item.exit_code == status
    assert item.failure is not None and item.result.error == item.failure.message
    assert type(item.failure) is type(why) or (status == 3 and type(item.failure) is TargetGone)
