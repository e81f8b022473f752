"""Concurrent clients, and which worker process of ``sealbox serve --workers N`` serves each.

:func:`together` sends one request per client at the same instant: every client has
connected (TLS handshake done) first, then all wait on one barrier and send at once.

uvicorn's workers share one listening socket and each accepts connections for itself,
so a client cannot choose its worker. :func:`serving_worker` finds it from the
kernel's tables: the server side of a TCP connection (``/proc/net/tcp``) is a socket
inode, and the worker holding that inode in ``/proc/<pid>/fd`` is the one serving it.

:func:`two_workers` runs that server, ``sealbox serve --workers 2`` on this run's
PostgreSQL and Redis, for the tests of one module.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from tests.service.conftest import ServeProcess, reset_shared_state, serve_process, shared_env

__all__ = [
    "attempts",
    "client_port",
    "serving_worker",
    "together",
    "two_workers",
    "worker_pids",
    "workers_env",
]

# How long a test keeps opening connections until each worker has served one.
_SPREAD_SECONDS = 30.0
_PAUSE = 0.01


def workers_env(**extra: str) -> dict[str, str]:
    """The environment of :func:`two_workers` and of ``sealbox`` commands beside it: this
    run's PostgreSQL and Redis (a skip, or a failure under CI, without them), the fast
    password profile, and ``extra``."""
    return {**shared_env(), "SEALBOX_PASSWORD_PROFILE": "test", **extra}


@contextmanager
def two_workers(work: Path, env: dict[str, str]) -> Iterator[ServeProcess]:
    """``sealbox serve --workers 2`` in ``work`` (its data folder ``work / "data"``) with
    ``env``, on emptied PostgreSQL tables and Redis keys, emptied again after it stops.

    :func:`serve_process` checks, as the block ends, that it stopped cleanly and wrote
    no traceback."""
    reset_shared_state()
    try:
        with serve_process(work, "--workers", "2", env=env, data_dir=work / "data") as srv:
            yield srv
    finally:
        reset_shared_state()


def together(
    clients: list[httpx2.Client], send: Callable[[int, httpx2.Client], httpx2.Response]
) -> list[httpx2.Response]:
    """Send one request per client at the same instant; return the answers in order."""
    for c in clients:
        assert c.get("/health").status_code == 200  # connected and handshaken
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def run(i: int, c: httpx2.Client) -> None:
        barrier.wait()
        answers[i] = send(i, c)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def worker_pids(parent: int, port: int) -> list[int]:
    """The child processes of ``parent`` that listen on ``port`` (uvicorn's workers)."""
    listening = _inodes(lambda local, _remote, state: local == port and state == _LISTEN)
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and _holds(int(entry.name), listening):
            children.append(int(entry.name))
    return sorted(children)


def client_port(response: httpx2.Response) -> int:
    """The local port of the connection ``response`` came over."""
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


_LISTEN = "0A"


def _inodes(match: Callable[[int, int, str], bool]) -> set[str]:
    """Socket inodes of the TCP table rows whose (local port, remote port, state) match."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local = int(fields[1].rsplit(":", 1)[1], 16)
            remote = int(fields[2].rsplit(":", 1)[1], 16)
            if match(local, remote, fields[3]):
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


def _holds(pid: int, inodes: set[str]) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(fd_dir / name) in inodes:
                return True
        except OSError:
            continue
    return False


def attempts(seconds: float = _SPREAD_SECONDS) -> Iterator[int]:
    """Numbered tries at reaching every worker with a new connection, for up to ``seconds``.

    Whichever worker accepts first gets a new connection. On a busy machine the worker
    that has just served one is often the only one awake for the next, and twenty-four
    tries in a row all went to it; so the tries pause, letting both workers wait in
    ``accept`` again, and a deadline, not a count, ends the search.
    """
    deadline = time.monotonic() + seconds
    n = 0
    while n == 0 or time.monotonic() < deadline:
        yield n
        n += 1
        time.sleep(_PAUSE)


def serving_worker(workers: list[int], server_port: int, peer_port: int) -> int | None:
    """The worker holding the server side of the connection from ``peer_port``."""
    inodes = _inodes(lambda local, remote, _state: local == server_port and remote == peer_port)
    return next((pid for pid in workers if _holds(pid, inodes)), None)


def clear_throttle_counters() -> None:
    """Forget every attempt this run's services counted in Redis: for the tests of a module
    sharing one server, each starting with no attempts counted."""
    import redis

    from tests.service.conftest import REDIS_PREFIX, REDIS_URL

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{REDIS_PREFIX}throttle:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
