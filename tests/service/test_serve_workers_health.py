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
        # A stopped worker is killed a stop's time (this, and 5 s) after its SIGTERM.
        env["SEALBOX_SHUTDOWN_TIMEOUT"] = "1"
        with serve_process(
            tmp_path, "--workers", "2", *args, env=env, data_dir=tmp_path / "data"
        ) as srv:
            yield srv


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
    tmp_path: Path,
) -> None:
    # A worker that hangs without exiting (SIGSTOP here; a deadlock or an endless loop in
    # its event loop alike) was never replaced: the service ran on with one worker fewer,
    # the connections that worker had accepted waiting forever.
    with _serving(tmp_path, "hung", "--worker-healthcheck-timeout", "3") as srv:
        hung, other = _workers(srv, 2)
        os.kill(hung, signal.SIGSTOP)
        try:
            _wait_until_gone(hung)  # SIGKILL ends a stopped process
        finally:
            if _running(hung):
                os.kill(hung, signal.SIGCONT)
        workers = _workers(srv, 2)
        assert other in workers and hung not in workers
        _answers(srv)
    stderr = srv.stderr
    assert stderr.count("missed its health check") == 1, stderr
    assert f"Child process [{hung}] missed its health check (no answer in 3 seconds)" in stderr
    assert "died" not in stderr, stderr


def test_an_idle_healthy_service_is_never_restarted_by_its_health_check(tmp_path: Path) -> None:
    with _serving(tmp_path, "idle", "--worker-healthcheck-timeout", "2") as srv:
        workers = _workers(srv, 2)
        deadline = time.monotonic() + 4 * 2  # four timeouts of quiet
        while time.monotonic() < deadline:
            assert worker_pids(srv.proc.pid, srv.port) == workers, _stderr(srv)
            time.sleep(0.2)
        _answers(srv)
        assert _workers(srv, 2) == workers
    assert "health check" not in srv.stderr, srv.stderr
    assert "died" not in srv.stderr, srv.stderr


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


def test_a_service_stopped_as_a_whole_and_resumed_keeps_its_workers(tmp_path: Path) -> None:
    # Ctrl-Z in a terminal stops the supervisor with its workers. Resumed, the supervisor
    # found every worker's last beat older than the timeout, and replaced them all.
    with _serving(tmp_path, "resumed", "--worker-healthcheck-timeout", "2") as srv:
        workers = _workers(srv, 2)
        everyone = [srv.proc.pid, *workers]
        for pid in everyone:
            os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(3 * 2)  # stopped for longer than the timeout
        finally:
            for pid in everyone:
                os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 2 * 2  # the first look at the beats comes at once
        while time.monotonic() < deadline:
            assert worker_pids(srv.proc.pid, srv.port) == workers, _stderr(srv)
            time.sleep(0.2)
        _answers(srv)
    assert "health check" not in srv.stderr, srv.stderr
