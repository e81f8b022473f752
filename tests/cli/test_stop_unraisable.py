"""A stop (SIGTERM, Ctrl-C) that lands while a ``__del__`` or a weakref callback runs is
dropped there by Python and raised again before the output is committed: it is never
printed as "Exception ignored in …" beside the command's one error line."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from sealbox.cli._encrypt_decrypt import _terminate_as_interrupt
from sealbox.cli._io import Terminated

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


class _SignalOnCollect:
    """Sends SIGTERM to this process from its ``__del__``: the handler then runs inside
    it, where an exception cannot propagate."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # bytecode, so that the handler runs here
            pass


def test_a_stop_dropped_inside_a_finaliser_is_raised_again_and_never_printed(monkeypatch):
    seen: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    with pytest.raises(Terminated), _terminate_as_interrupt() as stop:
        _SignalOnCollect()  # collected at once: its __del__ runs here
        assert stop.signum == signal.SIGTERM
        stop.check()
    assert seen == []
    assert sys.unraisablehook is not None and signal.getsignal(signal.SIGTERM) is not stop.handle


def test_other_unraisable_errors_still_reach_the_hook(monkeypatch):
    seen: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))

    class Broken:
        def __del__(self) -> None:
            raise ValueError("a finaliser's own bug")

    with _terminate_as_interrupt():
        Broken()
    assert [type(e) for e in seen] == [ValueError]
