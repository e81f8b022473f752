"""An app of one's own (built on sealbox.integrations.fastapi) served by plain uvicorn over
real TLS on 127.0.0.1, and a client that trusts its certificate."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import uvicorn
from fastapi import FastAPI

from tests._uvicorn import uvicorn_in_thread
from tests.service.conftest import free_port
from tests.unit.test_jwt_remote import make_tls

__all__ = ["served_over_tls"]


@contextmanager
def served_over_tls(app: FastAPI, folder: Path) -> Iterator[httpx2.Client]:
    """Serve ``app`` over TLS (its certificate and CA made in ``folder``) for the block,
    with a client of its base URL."""
    _context, ca = make_tls(folder)
    chain = folder / "server.pem"
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ssl_keyfile=str(chain),
        ssl_certfile=str(chain),
        log_level="critical",
    )
    with (
        uvicorn_in_thread(config, "the test app"),
        httpx2.Client(
            verify=ssl.create_default_context(cafile=str(ca)),
            base_url=f"https://127.0.0.1:{port}",
            timeout=20,
        ) as c,
    ):
        yield c
