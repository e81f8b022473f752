"""sealbox.tls.server_session: a mutual-TLS handshake over memory buffers with a real
Python ssl client, the client's identity, and what a renewal that does not load does."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from sealbox.exceptions import TLSConfigError
from sealbox.tls import ClientIdentity
from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.context import client_context
from sealbox.tls.server_session import HandshakeRefusedError, ServerTLS, TLSSession


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    CertificateAuthority.init(folder / "ca", name="session test CA")
    ca = CertificateAuthority.load(folder / "ca")
    server = ca.issue_server(["localhost"]).write(folder / "server")
    client = ca.issue_client("billing").write(folder / "client")
    return {
        "ca": folder / "ca" / "ca.crt",
        "cert": server[0],
        "key": server[1],
        "client_cert": client[0],
        "client_key": client[1],
    }


def _handshake(
    session: TLSSession, client: ssl.SSLObject, out: ssl.MemoryBIO, inc: ssl.MemoryBIO
) -> None:
    """Pass bytes between the two ends until both are done (or one refuses)."""
    client_done = server_done = False
    for _ in range(20):
        if not client_done:
            try:
                client.do_handshake()
                client_done = True
            except ssl.SSLWantReadError:
                pass
        session.receive(out.read())
        if not server_done:
            server_done = session.handshake()
        inc.write(session.outgoing())
        if client_done and server_done:
            return
    raise AssertionError("the handshake did not finish")


def _client(
    pki: dict[str, Path], *, with_cert: bool
) -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    ctx = client_context(
        pki["ca"],
        pki["client_cert"] if with_cert else None,
        pki["client_key"] if with_cert else None,
    )
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    return ctx.wrap_bio(inc, out, server_hostname="localhost"), out, inc


def test_a_mutual_tls_session_carries_data_and_names_the_client(pki: dict[str, Path]) -> None:
    tls = ServerTLS(pki["cert"], pki["key"], pki["ca"], mtls=True)
    session = TLSSession(tls.context)
    client, out, inc = _client(pki, with_cert=True)
    _handshake(session, client, out, inc)
    identity = session.peer_identity()
    assert isinstance(identity, ClientIdentity)
    assert identity.common_name == "billing" and identity.issuer == "session test CA"
    client.write(b"GET / HTTP/1.1\r\n\r\n")
    session.receive(out.read())
    assert session.read() == b"GET / HTTP/1.1\r\n\r\n"
    session.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    inc.write(session.outgoing())
    assert client.read() == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert session.info("tls_version") in ("TLSv1.2", "TLSv1.3")


def test_a_client_without_a_certificate_is_refused_with_the_reason(pki: dict[str, Path]) -> None:
    session = TLSSession(ServerTLS(pki["cert"], pki["key"], pki["ca"], mtls=True).context)
    client, out, inc = _client(pki, with_cert=False)
    with pytest.raises(HandshakeRefusedError, match="no client certificate"):
        _handshake(session, client, out, inc)
    # The alert OpenSSL chose waits to be sent, so the client learns why.
    inc.write(session.outgoing())
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
        client.read()


def test_a_renewal_that_does_not_load_raises_a_tls_config_error(
    pki: dict[str, Path], tmp_path: Path
) -> None:
    cert, key = tmp_path / "s.crt", tmp_path / "s.key"
    cert.write_bytes(pki["cert"].read_bytes())
    key.write_bytes(pki["key"].read_bytes())
    tls = ServerTLS(cert, key, None, mtls=False)
    key.write_bytes(pki["client_key"].read_bytes())  # not the certificate's key
    with pytest.raises(TLSConfigError):
        tls.renewed()


def _other_pki_with_an_intermediate(folder: Path) -> dict[str, Path]:
    """A root, an intermediate CA under it, and a client certificate the intermediate signed
    (written leaf then intermediate, as a client sends it)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def make(
        name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, *, ca: bool
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        signer = issuer[1] if issuer else key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer[0].subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
            )
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        return builder.sign(signer, hashes.SHA256()), key

    root = make("other root", None, ca=True)
    inter = make("other intermediate", root, ca=True)
    leaf = make("worker", inter, ca=False)
    pem = serialization.Encoding.PEM
    paths = {k: folder / f"{k}.pem" for k in ("root", "inter", "leaf", "leaf_key")}
    paths["root"].write_bytes(root[0].public_bytes(pem))
    paths["inter"].write_bytes(inter[0].public_bytes(pem))
    paths["leaf"].write_bytes(leaf[0].public_bytes(pem) + inter[0].public_bytes(pem))
    paths["leaf_key"].write_bytes(
        leaf[1].private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def test_a_client_chain_through_an_intermediate_needs_the_root_as_client_ca(
    pki: dict[str, Path], tmp_path: Path
) -> None:
    # docs/tls.md: leaf + intermediate from the client, the root in the client CA file.
    import hashlib

    other = _other_pki_with_an_intermediate(tmp_path)
    chain = {**pki, "client_cert": other["leaf"], "client_key": other["leaf_key"]}
    session = TLSSession(ServerTLS(pki["cert"], pki["key"], other["root"], mtls=True).context)
    client, out, inc = _client(chain, with_cert=True)
    _handshake(session, client, out, inc)
    identity = session.peer_identity()
    assert identity is not None and identity.common_name == "worker"
    leaf_pem = other["leaf"].read_text().split("-----END CERTIFICATE-----")[0]
    leaf_der = ssl.PEM_cert_to_DER_cert(leaf_pem + "-----END CERTIFICATE-----\n")
    assert identity.fingerprint == hashlib.sha256(leaf_der).hexdigest()  # the leaf's, bound

    session = TLSSession(ServerTLS(pki["cert"], pki["key"], other["inter"], mtls=True).context)
    client, out, inc = _client(chain, with_cert=True)
    with pytest.raises(
        HandshakeRefusedError, match=r"unable to get issuer certificate \(at depth 1"
    ):
        _handshake(session, client, out, inc)
