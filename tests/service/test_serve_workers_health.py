"""``sealbox serve --workers N`` keeps its workers alive and their number as asked: a
worker whose event loop stands still is replaced (the health check), SIGTTIN adds a
worker, SIGTTOU removes one, never the last; all on the same port, answering requests."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.service._workers import attempts, client_port, serving_worker, worker_pids
from tests.service.conftest import ServeProcess, private_shared_state, serve_process

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

# Generous bounds for an event to happen on a busy machine; no test waits them out.
_WAIT = 90.0


@contextmanager
def _serving(tmp_path: Path, name: str, *args: str) -> Iterator[ServeProcess]:
    """``sealbox serve --workers 2 ARGS`` on PostgreSQL and Redis of its own."""
    with private_shared_state(name) as shared:
        env = {f"SEALBOX_{k.upper()}": v for k, v in shared.items()}
        env["SEALBOX_PASSWORD_PROFILE"] = "test"
        # A stopped worker is killed a stop's time (this, and 5 s) after its SIGTERM: no
        # request is under way in these tests, and the 5 s are the supervisor's own.
        env["SEALBOX_SHUTDOWN_TIMEOUT"] = "0"
        with serve_process(
            tmp_path, "--workers", "2", *args, env=env, data_dir=tmp_path / "data"
        ) as srv:
            yield srv


@pytest.fixture(scope="module")
def _checked_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One service with the shortest health check (2 s) for the tests that watch it check
    its workers: each leaves it with two serving workers, as it began (a start costs more
    than most of these tests wait). Its clean stop is checked once the module is done."""
    with _serving(
        tmp_path_factory.mktemp("checked"), "checked", "--worker-healthcheck-timeout", "2"
    ) as srv:
        yield srv


@dataclass
class _Checked:
    """The shared service as a test begins: its two workers, each having served."""

    srv: ServeProcess
    workers: list[int]
    start: int  # the length of its stderr then

    def log(self) -> str:
        """What the service has written since the test began."""
        return _stderr(self.srv)[self.start :]


@pytest.fixture
def checked(_checked_service: ServeProcess) -> _Checked:
    srv = _checked_service
    assert srv.proc.poll() is None, _stderr(srv)[-3000:]
    start = len(_stderr(srv))
    return _Checked(srv, _workers(srv, 2), start)


def _workers(srv: ServeProcess, count: int) -> list[int]:
    """The workers, once there are ``count`` of them and each has answered a request of
    its own (a worker that serves has started its event loop: its health check is on)."""
    deadline = time.monotonic() + _WAIT
    while len(pids := worker_pids(srv.proc.pid, srv.port)) != count:
        assert srv.proc.poll() is None and time.monotonic() < deadline, pids
        time.sleep(0.05)
    served: set[int] = set()
    for _ in attempts(_WAIT):
        if served == set(pids):
            return pids
        with srv.client() as c:
            r = c.get("/health")
            assert r.status_code == 200
            pid = serving_worker(pids, srv.port, client_port(r))
        if pid is not None:
            served.add(pid)
    raise AssertionError(f"workers {sorted(set(pids) - served)} never answered")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _wait_until_gone(pid: int) -> None:
    deadline = time.monotonic() + _WAIT
    while _running(pid):
        assert time.monotonic() < deadline, f"worker {pid} is still there"
        time.sleep(0.05)


def _stderr(srv: ServeProcess) -> str:
    return (srv.data_dir.parent / f"serve-{srv.port}.err").read_text(errors="replace")


def _answers(srv: ServeProcess, times: int = 10) -> None:
    """New connections to the port, each answered."""
    for _ in range(times):
        with srv.client() as c:
            assert c.get("/health").status_code == 200


def test_a_stopped_worker_misses_its_health_check_and_is_replaced_on_the_same_port(
    checked: _Checked,
) -> None:
    # A worker that hangs without exiting (SIGSTOP here; a deadlock or an endless loop in
    # its event loop alike) was never replaced: the service ran on with one worker fewer,
    # the connections that worker had accepted waiting forever.
    srv = checked.srv
    hung, other = checked.workers
    os.kill(hung, signal.SIGSTOP)
    try:
        _wait_until_gone(hung)  # SIGKILL ends a stopped process
    finally:
        if _running(hung):
            os.kill(hung, signal.SIGCONT)
    workers = _workers(srv, 2)
    assert other in workers and hung not in workers
    _answers(srv)
    stderr = checked.log()
    assert stderr.count("missed its health check") == 1, stderr
    assert f"Child process [{hung}] missed its health check (no answer in 2 seconds)" in stderr
    assert "died" not in stderr, stderr


def test_an_idle_healthy_service_is_never_restarted_by_its_health_check(
    checked: _Checked,
) -> None:
    srv, workers = checked.srv, checked.workers
    # Two timeouts of quiet: a worker whose idle loop sent no beat would be replaced one
    # timeout after its last request (just answered), the second is a late look's margin;
    # the log read at the end covers every look until then.
    deadline = time.monotonic() + 2 * 2
    while time.monotonic() < deadline:
        assert worker_pids(srv.proc.pid, srv.port) == workers, _stderr(srv)
        time.sleep(0.2)
    _answers(srv)
    assert _workers(srv, 2) == workers
    assert "health check" not in checked.log(), checked.log()
    assert "died" not in checked.log(), checked.log()


def test_sigttin_adds_a_worker_and_sigttou_removes_one_but_never_the_last(
    tmp_path: Path,
) -> None:
    with _serving(tmp_path, "scale", "--log-level", "info") as srv:
        first = _workers(srv, 2)
        srv.proc.send_signal(signal.SIGTTIN)
        three = _workers(srv, 3)  # each of the three answers a request of its own
        assert set(first) < set(three)
        for count in (2, 1):
            srv.proc.send_signal(signal.SIGTTOU)
            _workers(srv, count)
            _answers(srv)
        srv.proc.send_signal(signal.SIGTTOU)  # the last one stays
        deadline = time.monotonic() + _WAIT
        while "already reached one process" not in _stderr(srv):
            assert time.monotonic() < deadline, _stderr(srv)
            time.sleep(0.05)
        (last,) = _workers(srv, 1)
        _answers(srv)
        for pid in set(three) - {last}:
            _wait_until_gone(pid)
        srv.proc.send_signal(signal.SIGTTIN)  # and it grows again from one
        assert last in _workers(srv, 2)
    assert "died" not in srv.stderr, srv.stderr
    assert srv.stderr.count("Received SIGTTOU, decreasing number of processes.") == 2


def test_sighup_with_a_stopped_worker_replaces_it_and_the_service_still_stops(
    tmp_path: Path,
) -> None:
    # SIGHUP replaces the workers in turn, waiting for each old one to end; a stopped one
    # never ends on SIGTERM, and the supervisor waited for it for ever: no more workers
    # replaced, and a stop signal never obeyed. It is killed once a stop's time has passed.
    with _serving(tmp_path, "hupstopped", "--worker-healthcheck-timeout", "3600") as srv:
        stopped, other = _workers(srv, 2)
        os.kill(stopped, signal.SIGSTOP)
        try:
            srv.proc.send_signal(signal.SIGHUP)
            _wait_until_gone(stopped)
            _wait_until_gone(other)  # the second one is replaced in its turn
        finally:
            if _running(stopped):
                os.kill(stopped, signal.SIGCONT)
        workers = _workers(srv, 2)
        assert not {stopped, other} & set(workers)
        _answers(srv)
    assert "died" not in srv.stderr, srv.stderr


def test_the_health_check_timeout_takes_seconds_from_two(cli, tmp_path: Path) -> None:
    r = cli(["serve", "--data-dir", tmp_path / "d", "--worker-healthcheck-timeout", "1"])
    assert r.code == 2, r.stderr
    assert "--worker-healthcheck-timeout" in r.stderr


def test_a_service_stopped_as_a_whole_and_resumed_keeps_its_workers(checked: _Checked) -> None:
    # Ctrl-Z in a terminal stops the supervisor with its workers. Resumed, the supervisor
    # found every worker's last beat older than the timeout, and replaced them all.
    srv, workers = checked.srv, checked.workers
    everyone = [srv.proc.pid, *workers]
    for pid in everyone:
        os.kill(pid, signal.SIGSTOP)
    try:
        # Stopped for two timeouts: each last beat is older than the timeout on resume,
        # and the supervisor's wait (its deadline a timeout ahead at most) overslept by
        # more than the second it allows itself.
        time.sleep(2 * 2)
    finally:
        for pid in everyone:
            os.kill(pid, signal.SIGCONT)
    # The first look at the beats comes at once; a timeout's quiet covers every look at a
    # beat sent before the stop, and the log read at the end the rest.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert worker_pids(srv.proc.pid, srv.port) == workers, _stderr(srv)
        time.sleep(0.2)
    _answers(srv)
    assert "health check" not in checked.log(), checked.log()
