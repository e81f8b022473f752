"""``sealbox serve --workers N`` and workers that keep dying: those that die before they
serve (a start that crashes every time) stop the service after a few in a row, with
status 3 and one ERROR line; one that served and then died is replaced each time."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sealbox.service.supervisor import _DEATHS_BEFORE_SERVING
from tests.service.conftest import ServeProcess, private_shared_state, serve_process
from tests.service.test_serve_workers_health import _answers, _stderr, _wait_until_gone, _workers

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

# A generous bound for the service to give up on a crash loop; no test waits it out.
_WAIT = 90.0

_GIVES_UP = (
    f"ERROR:    Child processes keep dying before they serve ({_DEATHS_BEFORE_SERVING} in a "
    "row), stopping the parent process."
)


@contextmanager
def _serving(tmp_path: Path, name: str, *, expect_exit: int = 0) -> Iterator[ServeProcess]:
    """``sealbox serve --workers 2`` on PostgreSQL and Redis of its own."""
    with private_shared_state(name) as shared:
        env = {f"SEALBOX_{k.upper()}": v for k, v in shared.items()}
        env["SEALBOX_PASSWORD_PROFILE"] = "test"
        with serve_process(
            tmp_path, "--workers", "2", env=env, data_dir=tmp_path / "data", expect_exit=expect_exit
        ) as srv:
            yield srv


def _new_workers(parent: int, known: set[int]) -> set[int]:
    """The worker processes of ``parent`` not in ``known``, from the moment they exist (the
    supervisor's other child, multiprocessing's resource tracker, is none of them)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in known:
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"resource_tracker" not in command:
            found.add(int(entry.name))
    return found


def test_workers_that_keep_dying_before_they_serve_stop_the_service_with_status_3(
    tmp_path: Path,
) -> None:
    # Each new worker killed as it starts (as a start that crashes after the fork, the OOM
    # killer at each start): the supervisor replaced them for ever, logging one "died"
    # after another. The worker left serving does not keep the service going: a start
    # that fails every time is a service that cannot be restarted.
    with _serving(tmp_path, "crashloop", expect_exit=3) as srv:
        keep, first = _workers(srv, 2)
        os.kill(first, signal.SIGKILL)  # it served: replaced at once
        killed = {first}
        deadline = time.monotonic() + _WAIT
        while srv.proc.poll() is None:
            assert time.monotonic() < deadline, _stderr(srv)[-3000:]
            for pid in _new_workers(srv.proc.pid, {keep, *killed}):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.005)
        assert srv.proc.returncode == 3
    stderr = srv.stderr
    assert stderr.splitlines().count(_GIVES_UP) == 1, stderr
    assert stderr.count("died") >= _DEATHS_BEFORE_SERVING + 1, stderr
    _wait_until_gone(keep)  # stopped with the service


def test_a_serving_worker_killed_again_and_again_is_replaced_each_time(tmp_path: Path) -> None:
    # Each worker served before it died: its start works, and no number of such deaths
    # stops the service.
    with _serving(tmp_path, "servedloop") as srv:
        workers = _workers(srv, 2)
        killed: list[int] = []
        # Both workers at each round: more such deaths than stop a crash loop, in half the
        # rounds (each waits for two new workers to start, side by side).
        while len(killed) <= _DEATHS_BEFORE_SERVING:
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            killed += workers
            for pid in workers:
                _wait_until_gone(pid)
            workers = _workers(srv, 2)  # each replacement has served a request of its own
            assert not set(killed) & set(workers)
            _answers(srv, times=2)
    for pid in killed:
        assert f"WARNING:  Child process [{pid}] died" in srv.stderr.splitlines()
    assert "keep dying" not in srv.stderr, srv.stderr
