"""Edges of sealbox.tls and ``sealbox ca``: wrong kinds of input, files in odd shapes,
CAs made elsewhere, host names IDNA refuses, and a server session fed odd bytes."""

from __future__ import annotations

import os
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sealbox.exceptions import ConfigError, TLSConfigError, TLSError
from sealbox.tls import certinfo
from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.certinfo import CertificateInfo
from sealbox.tls.context import client_context, server_context
from sealbox.tls.pinning import fetch_certificate, pin_from_file, spki_pin
from sealbox.tls.server_session import ClientIdentity, ServerTLS, TLSSession
from tests._tls import PKI, TLSServer, make_pki, plain_server_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("edges"))


# -- file arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("read", [pin_from_file, certinfo.load_certificates])
def test_an_int_path_is_a_typeerror_and_leaves_that_file_descriptor_open(read, tmp_path):
    (tmp_path / "f").write_bytes(b"not a certificate")
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        with pytest.raises(TypeError, match="must be a path"):
            read(fd)
        os.fstat(fd)  # open() would have taken it as a descriptor, read it and closed it
    finally:
        os.close(fd)


def test_a_der_certificate_file_is_refused_by_the_contexts_as_der(pki, tmp_path):
    der = tmp_path / "server.der"
    leaf = certinfo.load_certificates(pki.path("server.crt"))[0]
    der.write_bytes(leaf.public_bytes(serialization.Encoding.DER))
    with pytest.raises(TLSConfigError, match=r"server\.der is a DER certificate") as info:
        server_context(der, pki.path("server.key"))
    assert info.value.code == "der_certificate"
    ca_der = tmp_path / "ca.der"
    ca_der.write_bytes(pki.ca.certificate.public_bytes(serialization.Encoding.DER))
    with pytest.raises(TLSConfigError, match=r"CA file .*ca\.der is a DER certificate"):
        client_context(ca=ca_der)


def test_a_chain_with_the_ca_before_the_leaf_is_refused_as_out_of_order(pki, tmp_path):
    leaf, ca = certinfo.load_certificates(pki.path("server.crt"))
    swapped = tmp_path / "swapped.crt"
    swapped.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (ca, leaf)))
    with pytest.raises(
        TLSConfigError, match=r"out of order.*CN=localhost.*must come first"
    ) as info:
        server_context(swapped, pki.path("server.key"))
    assert info.value.code == "chain_out_of_order"


def test_a_file_with_a_certificate_and_its_key_pins_the_certificate(pki, tmp_path):
    both = tmp_path / "both.pem"
    both.write_bytes(
        Path(pki.path("server.key")).read_bytes() + Path(pki.path("server.crt")).read_bytes()
    )
    server_context(both)  # the contexts take such a file
    assert pin_from_file(both) == pin_from_file(pki.path("server.crt"))
    with pytest.raises(TLSConfigError, match="is a private key"):
        pin_from_file(pki.path("server.key"))


def test_a_naive_now_is_a_config_error_not_a_comparison_typeerror(pki):
    naive = datetime.now()  # the mistake under test
    with pytest.raises(ConfigError, match="timezone-aware"):
        client_context(ca=pki.ca_file, now=naive)
    with pytest.raises(ConfigError, match="timezone-aware"):
        server_context(pki.path("server.crt"), pki.path("server.key"), now=naive)
    info = CertificateInfo.from_certificate(pki.ca.certificate)
    with pytest.raises(ConfigError, match="timezone-aware"):
        info.expired(naive)
    with pytest.raises(ConfigError, match="timezone-aware"):
        info.to_dict(naive)


def test_pins_of_the_wrong_type_are_a_typeerror_saying_what_to_pass():
    with pytest.raises(TypeError, match="pins must be a str"):
        client_context(pins=5)  # type: ignore[arg-type]


# -- names given to a CA ------------------------------------------------------------------


def test_issue_server_refuses_a_lone_str_rather_than_one_name_per_letter():
    ca = CertificateAuthority.generate()
    with pytest.raises(TypeError, match=r"names must be a list of str.*\['api'\]"):
        ca.issue_server("api")


@pytest.mark.parametrize("field", ["permitted_dns", "permitted_ips"])
def test_generate_refuses_a_lone_str_of_constraints_rather_than_one_per_letter(field):
    with pytest.raises(TypeError, match=f"{field} must be a list of str"):
        CertificateAuthority.generate(**{field: "acme"})


@pytest.mark.parametrize("item", [5, None, b"api.test"])
def test_a_name_that_is_not_a_str_is_a_typeerror_saying_what_to_pass(item):
    ca = CertificateAuthority.generate()
    with pytest.raises(TypeError, match="a name must be a str"):
        ca.issue_server([item])
    with pytest.raises(TypeError, match="a network must be a str"):
        CertificateAuthority.generate(permitted_ips=[item])


def test_a_non_ascii_name_is_refused_even_when_it_lowercases_to_ascii():
    ca = CertificateAuthority.generate()
    # U+212A KELVIN SIGN lowercases to "k": it must not become a certificate for key.test.
    with pytest.raises(ConfigError, match="not ASCII"):
        ca.issue_server(["\u212aey.test"])
    with pytest.raises(ConfigError, match="not ASCII"):
        ca.issue_client("alice@\u212aey.test")


# -- CAs made elsewhere -------------------------------------------------------------------


def _foreign_ca(folder: Path, *, ski: bool, key_usage: bool, is_ca: bool = True) -> None:
    """A CA as `openssl req -x509` makes one by default: no keyUsage, maybe no SKI."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "foreign CA")])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    cert = builder.sign(key, hashes.SHA256())
    folder.mkdir()
    (folder / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "ca.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.mark.parametrize(
    ("ski", "key_usage", "is_ca", "message"),
    [
        (False, True, True, "has no subjectKeyIdentifier"),
        (True, False, True, "has no keyUsage"),
        (True, True, False, "is not a CA certificate"),
    ],
)
def test_a_ca_folder_made_elsewhere_that_cannot_issue_verifiable_leaves_is_refused_on_load(
    tmp_path, ski, key_usage, is_ca, message
):
    _foreign_ca(tmp_path / "ca", ski=ski, key_usage=key_usage, is_ca=is_ca)
    with pytest.raises(TLSConfigError, match=f"CA certificate .*ca.crt {message}"):
        CertificateAuthority.load(tmp_path / "ca")


def test_a_ca_without_key_usage_is_refused_because_strict_clients_refuse_its_leaves(tmp_path):
    # What the refusal protects from: a leaf issued anyway fails sealbox's own client check.
    _foreign_ca(tmp_path / "ca", ski=True, key_usage=True)
    good = CertificateAuthority.load(tmp_path / "ca")
    _foreign_ca(tmp_path / "bare", ski=True, key_usage=False)
    bare_key = serialization.load_pem_private_key((tmp_path / "bare/ca.key").read_bytes(), None)
    bare_cert = certinfo.load_certificates(tmp_path / "bare/ca.crt")[0]
    assert isinstance(bare_key, ec.EllipticCurvePrivateKey)
    with pytest.raises(TLSConfigError, match="has no keyUsage"):
        CertificateAuthority(bare_cert, bare_key)
    good.issue_server(["localhost"], days=5).write(tmp_path / "server")
    with TLSServer(
        plain_server_context(str(tmp_path / "server.crt"), str(tmp_path / "server.key"))
    ) as srv:
        ctx = client_context(ca=tmp_path / "ca/ca.crt")
        with (
            socket.create_connection(("127.0.0.1", srv.port)) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.version() is not None


def test_ca_issue_with_a_ca_lacking_a_subject_key_identifier_is_one_error_line(tmp_path, cli):
    _foreign_ca(tmp_path / "ca", ski=False, key_usage=True)
    (tmp_path / "ca" / "ca.key").chmod(0o600)  # else a warning about its mode comes first
    result = cli(
        ["ca", "issue", "server", tmp_path / "ca", "--san", "a.test", "-o", tmp_path / "a"]
    )
    assert result.code == 1
    assert result.stderr.startswith(
        f"sealbox: error: CA certificate {tmp_path / 'ca' / 'ca.crt'} has no subjectKeyIdentifier"
    )
    assert "internal error" not in result.stderr
    assert not (tmp_path / "a.key").exists()


def test_ca_issue_server_reports_each_certified_name_once(tmp_path, cli):
    assert cli(["ca", "init", tmp_path / "ca"]).code == 0
    result = cli(
        [
            "ca",
            "issue",
            "server",
            tmp_path / "ca",
            "--san",
            "API.test,api.test.",
            "--san",
            "10.0.0.5",
            "-o",
            tmp_path / "api",
        ]
    )
    assert result.code == 0, result.stderr
    assert result.out.startswith(f"issued server certificate for api.test, 10.0.0.5: {tmp_path}")


# -- fetching a server's certificate ------------------------------------------------------


@pytest.mark.parametrize("bad", ["a" * 64, "a..b", ".a", "a\x00b"])
def test_fetch_certificate_refuses_a_name_idna_cannot_encode_as_a_tls_error(pki, bad):
    with TLSServer(plain_server_context(pki.path("server.crt"), pki.path("server.key"))) as srv:
        with pytest.raises(TLSError, match="is not a valid host name"):
            fetch_certificate("127.0.0.1", srv.port, verify=False, server_name=bad)
        with pytest.raises(TLSError, match="is not a valid host name"):
            fetch_certificate(bad + ".test", srv.port, verify=False)
        cert = fetch_certificate("127.0.0.1", srv.port, verify=False, server_name="localhost")
        assert spki_pin(cert) == pin_from_file(pki.path("server.crt"))


def test_ca_pin_of_a_host_with_a_label_over_63_characters_is_one_error_line(cli):
    result = cli(["ca", "pin", "a" * 64 + ".test:443"])
    assert result.code == 1
    assert result.stderr.startswith("sealbox: error: cannot fetch the certificate of a")
    assert "is not a valid host name" in result.stderr
    assert "internal error" not in result.stderr


# -- the server session -------------------------------------------------------------------


def test_client_identity_from_a_str_with_a_lone_surrogate_is_a_tls_config_error():
    with pytest.raises(TLSConfigError, match="not a PEM certificate"):
        ClientIdentity.from_pem("-----BEGIN CERTIFICATE-----\udcff")


def _serve_one(tls: ServerTLS, listener: socket.socket, piece: int, seen: dict) -> None:
    """Accept one TCP connection and drive a TLSSession over it, ``piece`` bytes at a time."""
    conn, _ = listener.accept()
    conn.settimeout(5)
    session = TLSSession(tls.context)
    try:
        while True:
            data = conn.recv(piece)
            session.receive(data)  # b"" at end of file
            if not data:
                seen["eof_handshake"] = session.handshake()
                return
            if session.handshake():
                conn.sendall(session.outgoing())
                seen["done"] = True
                while b"ping" not in seen.setdefault("plain", b""):
                    session.receive(conn.recv(piece))
                    seen["plain"] += session.read()
                session.write(b"pong")
                conn.sendall(session.outgoing())
                return
            conn.sendall(session.outgoing())
    except Exception as exc:  # noqa: BLE001 - recorded for the test to show
        seen["error"] = exc
    finally:
        conn.close()


def test_a_client_hello_arriving_one_byte_at_a_time_over_tcp_completes_the_handshake(pki):
    tls = ServerTLS(Path(pki.path("server.crt")), Path(pki.path("server.key")), None, mtls=False)
    seen: dict = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=_serve_one, args=(tls, listener, 1, seen))
        server.start()
        ctx = client_context(ca=pki.ca_file)
        with (
            socket.create_connection(listener.getsockname(), timeout=10) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as client,
        ):
            client.sendall(b"ping")
            assert client.recv(10) == b"pong"
        server.join(10)
    assert "error" not in seen, seen.get("error")
    assert seen["done"] and seen["plain"] == b"ping"


def test_a_client_that_closes_mid_handshake_gives_the_session_end_of_file_not_an_error(pki):
    tls = ServerTLS(Path(pki.path("server.crt")), Path(pki.path("server.key")), None, mtls=False)
    ctx = client_context(ca=pki.ca_file)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    half = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        half.do_handshake()
    hello = outgoing.read()
    seen: dict = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=_serve_one, args=(tls, listener, 4096, seen))
        server.start()
        with socket.create_connection(listener.getsockname(), timeout=10) as raw:
            raw.sendall(hello[: len(hello) // 2])  # then close, mid-ClientHello
        server.join(10)
    assert "error" not in seen, seen.get("error")
    assert seen["eof_handshake"] is False
