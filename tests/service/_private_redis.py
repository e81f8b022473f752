"""A ``redis-server`` of a test's own, on a free port, with a small ``maxmemory``: its
memory is filled, and its policy set, without touching the shared Redis on 6379."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.conftest import IN_CI
from tests.service.conftest import free_port


@contextmanager
def private_redis(work: Path, policy: str, *extra: str) -> Iterator[str]:
    """Run ``redis-server`` with ``maxmemory 2mb`` and ``policy``; yield its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (a private Redis is started for this test)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory",
            "2mb",
            "--maxmemory-policy",
            policy,
            "--dir",
            str(work),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the private redis-server did not start") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def fill(url: str, until: Callable[[redis.Redis], bool], *, expire: int | None = None) -> int:
    """Write small filler keys until ``until(client)`` holds, or until Redis refuses a
    write out of memory while its used memory is above ``maxmemory`` (a refusal counted
    against a request buffer Redis has not shrunk yet is not enough), and then lower
    ``maxmemory`` 256 KiB under the memory used, so that it stays full; return how many
    keys were written."""
    client = redis.Redis.from_url(url)
    written = 0
    try:
        while not until(client):
            if written > 200_000:
                raise AssertionError("the private Redis was never full")
            try:
                client.set(f"filler:{written}", b"x" * 200, ex=expire)
            except redis.exceptions.OutOfMemoryError:
                memory = client.info("memory")
                if memory["used_memory"] > memory["maxmemory"]:
                    # Barely over: a connection closed, a buffer shrunk, would bring it
                    # back under. Held over by a margin (this Redis is the test's own).
                    client.config_set("maxmemory", memory["used_memory"] - 262_144)
                    return written
                continue
            written += 1
        return written
    finally:
        client.close()
