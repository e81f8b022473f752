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
    start within 30 seconds)."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(15)
