"""The service's TLS engine keeps sealbox's TLS policy (RFC 9325), checked by openssl s_client."""

from __future__ import annotations

import socket
import ssl
import subprocess

import pytest

from tests.conftest import require_tool
from tests.service.conftest import Running


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    """One service for the module: these tests read it and change nothing others read."""
    return module_service


def _s_client(service, *args: str) -> str:
    r = subprocess.run(
        [
            require_tool("openssl"),
            "s_client",
            "-connect",
            f"127.0.0.1:{service.settings.port}",
            "-servername",
            "localhost",
            "-CAfile",
            str(service.ca),
            *args,
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return r.stdout + r.stderr


@pytest.mark.interop
def test_tls_1_1_is_refused_with_a_protocol_version_alert(service) -> None:
    output = _s_client(service, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert "alert protocol version" in output.lower(), output[-2000:]


@pytest.mark.interop
def test_a_tls_1_2_suite_without_forward_secrecy_or_aead_is_refused(service) -> None:
    output = _s_client(service, "-tls1_2", "-cipher", "AES128-SHA:AES256-SHA256")
    assert "alert handshake failure" in output.lower(), output[-2000:]


@pytest.mark.interop
def test_tls_1_2_with_ecdhe_and_aes_gcm_is_served(service) -> None:
    output = _s_client(service, "-tls1_2")
    assert "Protocol  : TLSv1.2" in output
    assert "ECDHE-" in output and "GCM" in output
    assert "Compression: NONE" in output


@pytest.mark.parametrize(
    ("offered", "selected"),
    [(["h2", "http/1.1"], "http/1.1"), (["h2"], None), ([], None)],
)
def test_alpn_selects_http_1_1_or_nothing(service, offered, selected) -> None:
    ctx = ssl.create_default_context(cafile=str(service.ca))
    if offered:
        ctx.set_alpn_protocols(offered)
    with (
        socket.create_connection(("127.0.0.1", service.settings.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.selected_alpn_protocol() == selected
        tls.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert tls.recv(65536).startswith(b"HTTP/1.1 200 ")
