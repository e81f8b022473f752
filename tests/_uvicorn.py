"""``uvicorn_in_thread``: a uvicorn server run on a thread of the test, up before the test
goes on and stopped after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

__all__ = ["uvicorn_in_thread"]


@contextmanager
def uvicorn_in_thread(config: uvicorn.Config, what: str = "the app") -> Iterator[uvicorn.Server]:
    """Serve ``config`` on a thread until the block ends (``what`` names it if it fails to
    start within 30 seconds).

    Unless the block raised, the server must then stop as a served one does on SIGTERM:
    its thread ends within 15 seconds, without an exception.
    """
    server = uvicorn.Server(config)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as e:  # reported by the test too, not only on the thread
            raised.append(e)
            raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start") from (raised[0] if raised else None)
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(15)
    # Reached only when the block did not raise: its own failure is the one to show.
    assert not thread.is_alive(), f"{what} was still serving 15 s after it was told to stop"
    if raised:
        raise AssertionError(f"{what} stopped with an exception: {raised[0]!r}") from raised[0]
