"""A client certificate that verifies (its CA signed it) but whose names cannot be read,
or hold a NUL: no identity is made from it, and the TLS session refuses the client with a
reason instead of failing later with a bare ValueError."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from sealbox.exceptions import TLSConfigError
from sealbox.tls import ClientIdentity
from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.server_session import HandshakeRefusedError, ServerTLS, TLSSession
from tests.unit.test_tls_server_session import _handshake


def _dns_san(value: bytes) -> x509.UnrecognizedExtension:
    # GeneralNames holding one dNSName ([2] IA5String) with these bytes as they are.
    name = b"\x82" + bytes([len(value)]) + value
    return x509.UnrecognizedExtension(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30" + bytes([len(name)]) + name
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("odd")
    ca = CertificateAuthority.init(folder / "ca", name="odd names CA")
    ca.issue_server(["localhost"]).write(folder / "server")
    ca_key = serialization.load_pem_private_key((folder / "ca" / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = datetime.now(UTC)
    for stem, san in (("high", b"al\xffce.test"), ("nul", b"alice.test\x00.evil.test")):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, stem)]))
            .issuer_name(ca.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .add_extension(_dns_san(san), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        (folder / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{stem}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return folder


def _handshake_with(pki: Path, stem: str) -> TLSSession:
    """A real handshake: a Python ssl client sends the certificate as it is."""
    tls = ServerTLS(pki / "server.crt", pki / "server.key", pki / "ca" / "ca.crt", mtls=True)
    session = TLSSession(tls.context)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki / "ca" / "ca.crt")
    ctx.load_cert_chain(pki / f"{stem}.crt", pki / f"{stem}.key")
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ctx.wrap_bio(inc, out, server_hostname="localhost")
    _handshake(session, client, out, inc)
    return session


@pytest.mark.parametrize(
    ("stem", "reason"),
    [("high", "cannot be read"), ("nul", "control character")],
)
def test_a_client_certificate_with_names_no_identity_can_hold_is_refused_at_the_handshake(
    pki: Path, stem: str, reason: str
) -> None:
    with pytest.raises(HandshakeRefusedError, match=f"client certificate refused: .*{reason}"):
        _handshake_with(pki, stem)


@pytest.mark.parametrize(
    ("stem", "reason"),
    [("high", "cannot be read"), ("nul", "control character")],
)
def test_an_identity_is_never_made_from_names_that_cannot_be_read_or_hold_a_nul(
    pki: Path, stem: str, reason: str
) -> None:
    with pytest.raises(TLSConfigError, match=reason) as caught:
        ClientIdentity.from_pem((pki / f"{stem}.crt").read_bytes())
    assert caught.value.code == "client_certificate_unreadable"


@pytest.mark.parametrize("stem", ["high", "nul"])
def test_an_asgi_tls_chain_with_such_names_counts_as_no_client_certificate(
    pki: Path, stem: str
) -> None:
    from sealbox.integrations.fastapi.client_cert import scope_client_identity

    pem = (pki / f"{stem}.crt").read_text()
    scope = {"type": "http", "extensions": {"tls": {"client_cert_chain": [pem]}}}
    assert scope_client_identity(scope) is None
