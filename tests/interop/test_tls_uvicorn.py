"""The documented recipe: uvicorn serving over sealbox's server_context, with mutual TLS."""

from __future__ import annotations

import socket
import threading
import time

import httpx2
import pytest

from sealbox.tls.client import secure_client
from sealbox.tls.context import server_context
from tests._tls import make_pki
from tests.conftest import require_module

pytestmark = pytest.mark.interop


async def app(scope, receive, send):
    """A tiny ASGI app."""
    assert scope["type"] == "http"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello over mTLS"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_uvicorn_with_server_context(tmp_path):
    require_module("uvicorn")
    import uvicorn

    pki = make_pki(tmp_path)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_context_factory=lambda config, default: server_context(
            pki.path("server.crt"),
            pki.path("server.key"),
            client_ca=pki.ca_file,
            require_client_cert=True,
        ),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        url = f"https://localhost:{port}/"
        with secure_client(pki.ca_file, pki.path("alice.crt"), pki.path("alice.key")) as client:
            response = client.get(url)
        assert response.status_code == 200
        assert response.text == "hello over mTLS"
        with secure_client(pki.ca_file) as client, pytest.raises(httpx2.TransportError):
            client.get(url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
