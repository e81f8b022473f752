"""Every handshake the service refuses leaves a log line with the reason, not only mutual-TLS
refusals: a client that offers only ciphers the service does not accept, and one that speaks
plain HTTP to the TLS port.

(``sealbox.tls.context.server_context`` in someone else's server cannot do this: Python's
``ssl`` has no hook for a failed handshake; see docs/tls.md.)
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.service.conftest import make_settings, run_service

pytestmark = pytest.mark.interop


@pytest.fixture
def service(tmp_path: Path):
    with run_service(make_settings(tmp_path / "data")) as svc:
        yield svc


def _logged(caplog, text: str) -> bool:
    deadline = time.monotonic() + 5  # the server thread logs as it answers
    while text not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    return text in caplog.text


def test_a_client_without_a_shared_cipher_is_refused_and_logged(service, caplog) -> None:
    output = subprocess.run(
        [
            require_tool("openssl"),
            "s_client",
            "-connect",
            f"127.0.0.1:{service.settings.port}",
            "-tls1_2",
            "-cipher",
            "AES128-SHA",  # RSA key exchange, CBC: not in the service's list
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "handshake failure" in (output.stdout + output.stderr).lower()
    assert _logged(caplog, "refused a TLS handshake from 127.0.0.1")
    assert "no shared cipher" in caplog.text.lower()


def test_plain_http_to_the_tls_port_is_refused_and_logged(service, caplog) -> None:
    with socket.create_connection(("127.0.0.1", service.settings.port), timeout=10) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        raw.settimeout(10)
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    assert b"HTTP/1.1 200" not in answer
    assert _logged(caplog, "refused a TLS handshake from 127.0.0.1")
    refusals = [r for r in caplog.records if "refused a TLS handshake" in r.getMessage()]
    assert refusals[0].levelname == "WARNING"
    assert refusals[0].getMessage().split(": ", 1)[1]  # the reason follows
