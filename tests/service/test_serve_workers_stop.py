"""How ``sealbox serve --workers N`` stops: on a stop signal to its whole process group
(systemd's ``KillMode=control-group``, Ctrl-C in a terminal), to its supervisor alone,
and when one worker dies on its own."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.service._workers import worker_pids
from tests.service.conftest import private_shared_state
from tests.service.test_serve_operator import _wait_for

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


@dataclass
class _Serving:
    proc: subprocess.Popen[bytes]
    port: int
    err: Path
    data: Path
    workers: list[int]


@contextmanager
def _serve_in_own_group(tmp_path: Path, name: str) -> Iterator[_Serving]:
    """``sealbox serve --workers 2`` as the leader of a process group of its own (a group
    signal must not reach the test), with both workers up."""
    with private_shared_state(name) as shared:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
        env.update({f"SEALBOX_{k.upper()}": v for k, v in shared.items()})
        env["SEALBOX_PASSWORD_PROFILE"] = "test"
        data, err = tmp_path / "data", tmp_path / "serve.err"
        command = [sys.executable, "-m", "sealbox", "serve", "--data-dir", str(data)]
        with err.open("wb") as out:
            proc = subprocess.Popen(
                [*command, "--port", "0", "--workers", "2", "--log-level", "warning"],
                env=env,
                stderr=out,
                start_new_session=True,
            )
        try:
            _wait_for(err, "sealbox service on https://localhost:", proc)
            port = int(
                re.findall(r"sealbox service on https://localhost:(\d+) ", err.read_text())[0]
            )
            deadline = time.monotonic() + 60
            while len(workers := worker_pids(proc.pid, port)) < 2:
                assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
                time.sleep(0.05)
            yield _Serving(proc, port, err, data, workers)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # Reached only when the block did not raise: each test stops the service itself and
        # checks its status; whichever way it stopped, no traceback.
        assert "Traceback" not in err.read_text(), err.read_text()[-3000:]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def _waits_in_poll(pid: int) -> bool:
    """Whether ``pid`` sleeps in poll(2): a supervisor waiting for a worker's answer."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text().startswith("poll_schedule_timeout")
    except OSError:
        return False


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_to_the_process_group_stops_every_worker_and_starts_none(
    tmp_path: Path, signal_name: str
) -> None:
    # systemd signals every process of the service at once, and a terminal's Ctrl-C the
    # whole foreground group. uvicorn's supervisor looks at its workers before it reads
    # the signals that came meanwhile: a worker already gone on its own signal was taken
    # for a dead one, logged "Child process [PID] died" and replaced, during the stop.
    # The supervisor is held in its look here (the first worker, stopped, does not answer
    # it) while the other worker ends on the group's signal.
    with _serve_in_own_group(tmp_path, f"group{signal_name[3:].lower()}") as srv:
        held, other = srv.workers  # started in this order: the supervisor looks at `held` first
        before = _children(srv.proc.pid)
        os.kill(held, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 30
            while not (_waits_in_poll(srv.proc.pid) and _still_in_poll(srv.proc.pid)):
                assert time.monotonic() < deadline, "the supervisor never waited on a worker"
                time.sleep(0.05)
            os.killpg(srv.proc.pid, getattr(signal, signal_name))
            while _state(other) not in ("Z", "X"):  # ended on the group's signal
                assert time.monotonic() < deadline + 30, srv.err.read_text()
                time.sleep(0.02)
        finally:
            os.kill(held, signal.SIGCONT)
        started = set()
        while srv.proc.poll() is None:
            started |= _children(srv.proc.pid) - before
            assert time.monotonic() < deadline + 90, srv.err.read_text()
            time.sleep(0.02)
        stderr = srv.err.read_text()
        assert srv.proc.returncode == 0, stderr
        assert "died" not in stderr, stderr
        assert started == set(), stderr
        assert [pid for pid in (held, other) if _state(pid) not in ("Z", "X")] == []
        assert _port_is_free(srv.port)
        assert "Traceback" not in stderr, stderr


def _still_in_poll(pid: int) -> bool:
    """Still in poll(2) a moment later: waiting on the stopped worker, not on a quick answer."""
    time.sleep(0.1)
    return _waits_in_poll(pid)


def test_a_group_stop_signal_repeated_never_restarts_a_worker(tmp_path: Path) -> None:
    # The same stop, unaided: the group's SIGTERM wherever the supervisor happens to be.
    for round_ in range(3):
        (tmp_path / str(round_)).mkdir()
        with _serve_in_own_group(tmp_path / str(round_), f"grouploop{round_}") as srv:
            before = _children(srv.proc.pid)
            os.killpg(srv.proc.pid, signal.SIGTERM)
            assert srv.proc.wait(60) == 0, srv.err.read_text()
            stderr = srv.err.read_text()
            assert "died" not in stderr, stderr
            assert not (_children(srv.proc.pid) - before)
            assert [pid for pid in srv.workers if _state(pid) not in ("Z", "X")] == []
            assert _port_is_free(srv.port)


def test_sigterm_to_the_supervisor_alone_lets_a_worker_finish_its_request(tmp_path: Path) -> None:
    # The supervisor passes SIGTERM on to each worker, which answers what it is serving
    # before it ends; the service exits 0.
    (tmp_path / "d").mkdir()
    with _serve_in_own_group(tmp_path / "d", "parentonly") as srv:
        body = json.dumps({"username": "in-flight", "password": "canary-pw-inflight-7"}).encode()
        context = ssl.create_default_context(cafile=str(srv.data / "tls" / "ca.crt"))
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(
                b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )
            assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
            srv.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 60
            # Each worker is told, and stops listening; the one serving this request
            # waits for it to end.
            while worker_pids(srv.proc.pid, srv.port):
                assert time.monotonic() < deadline, srv.err.read_text()
                time.sleep(0.02)
            sock.sendall(body)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201 "), answer
        assert srv.proc.wait(60) == 0, srv.err.read_text()
        stderr = srv.err.read_text()
        assert "died" not in stderr and "canary-pw-inflight-7" not in stderr, stderr
        assert _port_is_free(srv.port)
