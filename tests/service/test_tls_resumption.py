"""TLS session resumption on the real service, over real sockets: a client that verified
with a certificate resumes its own session, and keeps (only) its own identity."""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
from pathlib import Path

import pytest

from sealbox.service.serve import prepare
from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.context import client_context
from tests.service.conftest import make_settings, run_service

PASSWORD = "a good password for resumption"


def _start(tmp_path: Path, *, required: bool):
    data = tmp_path / "data"
    settings = make_settings(data, mtls=required, client_ca=data / "tls" / "ca.crt")
    prepare(settings)
    ca = CertificateAuthority.load(data / "tls")
    return settings, {
        name: ca.issue_client(f"{name}.test").write(tmp_path / name) for name in ("alice", "bob")
    }


def _token(svc, cert: tuple[Path, Path] | None) -> str:
    # A token got over mutual TLS is bound to that certificate (RFC 8705).
    with svc.client(**({"cert": cert[0], "key": cert[1]} if cert else {})) as c:
        c.post("/auth/register", json={"username": "u", "password": PASSWORD})
        token = c.post("/auth/token", data={"username": "u", "password": PASSWORD})
    return str(token.json()["access_token"])


class _NoAnswer(Exception):
    """The server closed the connection without an answer."""


def _me(
    port: int, ctx: ssl.SSLContext, token: str, session: ssl.SSLSession | None = None
) -> tuple[dict | None, bool, ssl.SSLSession | None]:
    """GET /users/me on a new connection: the client certificate the app saw, whether the
    TLS session was resumed, and the session to resume next time."""
    request = (
        f"GET /users/me HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    )
    with (
        socket.create_connection(("127.0.0.1", port), timeout=20) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls,
    ):
        tls.sendall(request.encode())
        answer = b""
        while chunk := tls.recv(65536):  # to the close: the TLS 1.3 tickets come with it
            answer += chunk
        reused, new_session = tls.session_reused, tls.session
    if not answer:
        raise _NoAnswer
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer[:300]
    return json.loads(body)["client_certificate"], reused, new_session


def _fingerprint(cert: Path) -> str:
    leaf = cert.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(leaf)).hexdigest()


def _context(ca: Path, cert: tuple[Path, Path] | None, version: str) -> ssl.SSLContext:
    ctx = client_context(ca, *(cert or (None, None)))
    if version == "TLSv1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_a_mutual_tls_client_resumes_its_session_and_keeps_its_identity(
    tmp_path: Path, version: str
) -> None:
    # Before, every resumption under mTLS failed with an internal_error alert
    # ("session id context uninitialized"): clients that cache sessions could not reconnect.
    settings, certs = _start(tmp_path, required=True)
    with run_service(settings) as svc:
        token = _token(svc, certs["alice"])
        ctx = _context(svc.ca, certs["alice"], version)
        first, reused, session = _me(settings.port, ctx, token)
        assert not reused and first is not None
        again, reused, _ = _me(settings.port, ctx, token, session)
    assert reused
    assert again == first
    assert again["fingerprint"] == _fingerprint(certs["alice"][0])


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_a_resumed_session_without_a_certificate_gets_no_one_elses_identity(
    tmp_path: Path, version: str
) -> None:
    # Optional client certificates: a session begun without one stays anonymous when
    # resumed, even after another client connected with its certificate.
    settings, certs = _start(tmp_path, required=False)
    with run_service(settings) as svc:
        token = _token(svc, None)
        anonymous = _context(svc.ca, None, version)
        none, _, session = _me(settings.port, anonymous, token)
        bob, _, _ = _me(settings.port, _context(svc.ca, certs["bob"], version), token)
        resumed, reused, _ = _me(settings.port, anonymous, token, session)
    assert none is None
    assert bob is not None and bob["fingerprint"] == _fingerprint(certs["bob"][0])
    assert reused
    assert resumed is None


def _short_lived_client(
    tls_dir: Path, folder: Path, seconds: int
) -> tuple[tuple[Path, Path], float]:
    """A client certificate from the data folder's CA that expires in ``seconds``, and
    its expiry (a timestamp)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate((tls_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((tls_dir / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "brief.test")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(seconds=seconds))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("brief.test")]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = folder / "brief.crt", folder / "brief.key"
    paths[0].write_bytes(cert.public_bytes(pem))
    paths[1].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths, cert.not_valid_after_utc.timestamp()


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_a_session_is_not_resumed_once_its_client_certificate_has_expired(
    tmp_path: Path, version: str, caplog: pytest.LogCaptureFixture
) -> None:
    # OpenSSL checks the certificate at the full handshake only, and a session lives two
    # hours: resumed, it must not carry the identity of a certificate that lapsed since.
    import time

    settings, _ = _start(tmp_path, required=True)
    with run_service(settings) as svc:
        # A certificate that lapses soon, so little is waited out; one that lapsed before
        # its first full handshake (a slow machine) is made again, living longer.
        for seconds in (2, 8, 30):
            tls_dir = Path(settings.data_dir) / "tls"
            brief, expiry = _short_lived_client(tls_dir, tmp_path, seconds=seconds)
            try:
                token = _token(svc, brief)
                ctx = _context(svc.ca, brief, version)
                first, _, session = _me(settings.port, ctx, token)
                break
            except Exception:
                if time.time() < expiry or seconds == 30:
                    raise  # not its lapse: a failure of its own
        assert first is not None and first["common_name"] == "brief.test"
        time.sleep(max(0.0, expiry - time.time()) + 1.5)  # the certificate has lapsed now
        caplog.clear()  # what follows is said of the resumption
        # The server closes the connection instead of answering.
        with pytest.raises((ssl.SSLError, ConnectionError, _NoAnswer)):
            _me(settings.port, ctx, token, session)
    assert "client certificate refused: certificate has expired" in caplog.text
