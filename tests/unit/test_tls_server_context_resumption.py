"""Session resumption on a mutual-TLS ``server_context``, over real sockets: a session
resumes with the identity its full handshake verified, never past that certificate's expiry."""

from __future__ import annotations

import asyncio
import socket
import ssl
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from sealbox.tls import _resumed
from sealbox.tls.context import client_context, server_context
from tests._tls import TLSServer, make_pki

VERSIONS = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def _client(pki, version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = client_context(ca=pki.ca_file, cert=pki.path("alice.crt"), key=pki.path("alice.key"))
    ctx.maximum_version = version
    return ctx


def _get(port: int, ctx: ssl.SSLContext, session: ssl.SSLSession | None = None):
    """One request on a new connection: whether it was answered, resumed, and the session."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls,
    ):
        try:
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = b""
            while chunk := tls.recv(65536):  # to the close: TLS 1.3 tickets come with it
                answer += chunk
        except (OSError, ssl.SSLError):
            answer = b""
        return answer.endswith(b"ok"), tls.session_reused, tls.session


def _alice_expiry(pki) -> datetime:
    cert = x509.load_pem_x509_certificate(Path(pki.path("alice.crt")).read_bytes())
    return cert.not_valid_after_utc


@pytest.mark.parametrize("version", VERSIONS, ids=["TLSv1.2", "TLSv1.3"])
@pytest.mark.parametrize("required", [True, False], ids=["required", "optional"])
def test_a_session_resumes_with_the_identity_of_its_full_handshake(pki, version, required):
    ctx = server_context(
        pki.path("server.crt"),
        pki.path("server.key"),
        client_ca=pki.ca_file,
        require_client_cert=required,
    )
    client = _client(pki, version)
    with TLSServer(ctx) as srv:
        ok, reused, session = _get(srv.port, client)
        assert (ok, reused) == (True, False)
        ok, reused, _ = _get(srv.port, client, session)
        assert (ok, reused) == (True, True)
        first, second = srv.wait(2)
    assert first.peer_cert is not None
    assert second.peer_cert == first.peer_cert


@pytest.mark.parametrize("version", VERSIONS, ids=["TLSv1.2", "TLSv1.3"])
@pytest.mark.parametrize("required", [True, False], ids=["required", "optional"])
def test_a_session_is_not_resumed_after_its_client_certificate_expired(
    pki, monkeypatch, version, required
):
    # A full handshake would refuse the certificate now; resuming must not let it back in.
    ctx = server_context(
        pki.path("server.crt"),
        pki.path("server.key"),
        client_ca=pki.ca_file,
        require_client_cert=required,
    )
    client = _client(pki, version)
    with TLSServer(ctx) as srv:
        ok, _, session = _get(srv.port, client)
        assert ok
        later = _alice_expiry(pki) + timedelta(seconds=1)
        monkeypatch.setattr(_resumed, "_now", lambda: later)
        ok, _, _ = _get(srv.port, client, session)
        assert not ok
        refused = srv.wait(2)[1]
    assert refused.received == 0
    assert refused.error is not None and "certificate has expired" in refused.error


def test_an_asyncio_server_refuses_the_expired_resumed_session_without_a_traceback(
    pki, monkeypatch, caplog
):
    ctx = server_context(
        pki.path("server.crt"),
        pki.path("server.key"),
        client_ca=pki.ca_file,
        require_client_cert=True,
    )
    client = _client(pki, ssl.TLSVersion.TLSv1_3)
    served: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def main() -> list[bool]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
        port = server.sockets[0].getsockname()[1]
        ok, _, session = await asyncio.to_thread(_get, port, client)
        monkeypatch.setattr(_resumed, "_now", lambda: _alice_expiry(pki) + timedelta(1))
        again, _, _ = await asyncio.to_thread(_get, port, client, session)
        server.close()
        await server.wait_closed()
        return [ok, again]

    with caplog.at_level("DEBUG", logger="asyncio"):
        assert asyncio.run(main()) == [True, False]
    assert len(served) == 1
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_a_client_ca_removed_from_the_bundle_is_no_longer_trusted_by_the_new_context(pki, tmp_path):
    # Revocation by removal: the new context refuses the removed CA's clients, full
    # handshake or resumption of a session of the old context.
    bundle = tmp_path / "clients.pem"
    bundle.write_bytes(Path(pki.ca_file).read_bytes() + Path(pki.other_ca_file).read_bytes())
    mallory = client_context(
        ca=pki.ca_file, cert=pki.path("mallory.crt"), key=pki.path("mallory.key")
    )
    crt, key = pki.path("server.crt"), pki.path("server.key")
    old = server_context(crt, key, client_ca=bundle, require_client_cert=True)
    with TLSServer(old) as srv:
        ok, _, session = _get(srv.port, mallory)
    assert ok
    bundle.write_bytes(Path(pki.ca_file).read_bytes())
    new = server_context(crt, key, client_ca=bundle, require_client_cert=True)
    with TLSServer(new) as srv:
        assert _get(srv.port, mallory, session)[0] is False
        assert _get(srv.port, mallory)[0] is False
        assert _get(srv.port, _client(pki, ssl.TLSVersion.TLSv1_3))[0] is True
