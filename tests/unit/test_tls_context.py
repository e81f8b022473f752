"""SSL context builders: settings, and a precise error for every unusable file."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from sealbox.exceptions import ConfigError, TLSConfigError
from sealbox.hazmat.kdf import ScryptParams
from sealbox.keys import pkcs8 as _pkcs8
from sealbox.tls.client import secure_client
from sealbox.tls.context import client_context, load_server_certificate, server_context
from sealbox.tls.pinning import context_pins
from tests._tls import TLSServer, make_pki

PASSPHRASE = "leaf-key passphrase 7f3a"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    pki = make_pki(root)
    issued = pki.ca.issue_server(["localhost"])
    issued.write(root / "enc")
    (root / "enc.key").write_bytes(
        _pkcs8.encrypt_pem(issued.private_key, PASSPHRASE.encode(), ScryptParams(log_n=10))
    )
    (root / "combined.pem").write_bytes(
        (root / "server.crt").read_bytes() + (root / "server.key").read_bytes()
    )
    (root / "garbage.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n")
    (root / "empty.pem").write_bytes(b"")
    return pki


def test_client_context_settings(pki):
    ctx = client_context(ca=pki.ca_file)
    assert type(ctx) is ssl.SSLContext
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.check_hostname is True
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.verify_flags & ssl.VERIFY_X509_STRICT
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_NO_RENEGOTIATION
    for cipher in ctx.get_ciphers():
        if cipher["protocol"] == "TLSv1.2":
            assert cipher["kea"] == "kx-ecdhe", cipher["name"]
            assert cipher["aead"], cipher["name"]
    # Only the given CA is trusted, not the system's store.
    assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "Test CA"),),)]


def test_client_context_without_ca_uses_system_store(pki):
    ctx = client_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname


def test_client_context_with_pins(pki):
    ctx = client_context(ca=pki.ca_file, pins=[pki.ca.pin])
    assert type(ctx) is ssl.SSLContext
    assert context_pins(ctx) == [pki.ca.pin]
    assert ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context_pins(client_context(ca=pki.ca_file, pins=[])) == []
    with pytest.raises(ConfigError, match="sha256//"):
        client_context(ca=pki.ca_file, pins=["md5//abc"])


def test_client_context_with_client_certificate(pki):
    ctx = client_context(pki.ca_file, pki.path("alice.crt"), pki.path("alice.key"))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ConfigError, match="without its certificate"):
        client_context(pki.ca_file, key=pki.path("alice.key"))


def test_server_context_settings(pki):
    ctx = server_context(pki.path("server.crt"), pki.path("server.key"))
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    mtls = server_context(
        pki.path("server.crt"),
        pki.path("server.key"),
        client_ca=pki.ca_file,
        require_client_cert=True,
    )
    assert mtls.verify_mode == ssl.CERT_REQUIRED
    optional = server_context(pki.path("server.crt"), pki.path("server.key"), client_ca=pki.ca_file)
    assert optional.verify_mode == ssl.CERT_OPTIONAL
    # The key may sit in the certificate file.
    server_context(pki.path("combined.pem"))


def test_require_client_cert_needs_a_ca(pki):
    with pytest.raises(ConfigError, match="needs client_ca"):
        server_context(pki.path("server.crt"), pki.path("server.key"), require_client_cert=True)


def test_missing_files(pki):
    with pytest.raises(TLSConfigError, match=r"certificate file .*nope\.crt does not exist"):
        server_context(pki.path("nope.crt"), pki.path("server.key"))
    with pytest.raises(TLSConfigError, match=r"key file .*nope\.key does not exist"):
        server_context(pki.path("server.crt"), pki.path("nope.key"))
    with pytest.raises(TLSConfigError, match=r"CA file .*nope does not exist"):
        client_context(ca=pki.path("nope"))
    with pytest.raises(TLSConfigError, match=r"client CA file .*nope does not exist"):
        server_context(pki.path("server.crt"), pki.path("server.key"), client_ca=pki.path("nope"))
    with pytest.raises(TLSConfigError, match="is a directory"):
        client_context(ca=pki.path("ca"))


def test_unparsable_files(pki):
    with pytest.raises(TLSConfigError, match="cannot be parsed"):
        client_context(ca=pki.path("garbage.pem"))
    with pytest.raises(TLSConfigError, match="not a PEM or DER certificate"):
        client_context(ca=pki.path("empty.pem"))
    with pytest.raises(TLSConfigError, match="holds no PEM private key"):
        server_context(pki.path("server.crt"), pki.path("ca/ca.crt"))
    with pytest.raises(TLSConfigError, match="holds no private key"):
        server_context(pki.path("server.crt"))


def test_key_that_does_not_match(pki):
    with pytest.raises(TLSConfigError, match=r"backup\.key does not match the certificate") as info:
        server_context(pki.path("server.crt"), pki.path("backup.key"))
    assert info.value.hint
    with pytest.raises(TLSConfigError, match="does not match"):
        client_context(pki.ca_file, pki.path("alice.crt"), pki.path("server.key"))


def test_expired_certificates(pki):
    with pytest.raises(TLSConfigError, match=r"expired\.crt expired on 20") as info:
        server_context(pki.path("expired.crt"), pki.path("expired.key"))
    assert info.value.code == "certificate_expired"
    assert "renew" in (info.value.hint or "")
    with pytest.raises(TLSConfigError, match="expired on"):
        client_context(pki.ca_file, pki.path("expired-client.crt"), pki.path("expired-client.key"))
    # An expired CA.
    later = datetime.now(UTC) + timedelta(days=4000)
    with pytest.raises(TLSConfigError, match=r"CA certificate .* expired on") as info:
        client_context(ca=pki.ca_file, now=later)
    assert "cannot be renewed in place" in (info.value.hint or "")


def test_a_bundle_with_a_retired_root_beside_a_valid_one_is_taken(pki, tmp_path):
    # The system's bundle often holds an expired root; the other roots still verify.
    from sealbox.tls.ca import CertificateAuthority

    past = datetime.now(UTC) - timedelta(days=4000)
    retired = CertificateAuthority.generate(name="retired root", days=30, now=past)
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(
        Path(pki.ca_file).read_bytes()
        + retired.certificate.public_bytes(serialization.Encoding.PEM)
    )
    context = server_context(pki.path("server.crt"), pki.path("server.key"))
    with TLSServer(context) as srv, secure_client(ca=bundle) as client:
        assert client.get(srv.url()).text == "ok"


def test_not_yet_valid(pki):
    earlier = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(TLSConfigError, match="is not valid before"):
        server_context(pki.path("server.crt"), pki.path("server.key"), now=earlier)


def test_a_certificate_not_valid_yet_has_its_own_code_not_the_generic_one(pki):
    # An expired one had `certificate_expired`, one not valid yet only `tls_config`.
    earlier = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(TLSConfigError) as leaf:
        server_context(pki.path("server.crt"), pki.path("server.key"), now=earlier)
    with pytest.raises(TLSConfigError, match=r"CA certificate .* is not valid before") as ca:
        client_context(ca=pki.ca_file, now=earlier - timedelta(days=4000))
    for info in (leaf, ca):
        assert info.value.code == "certificate_not_yet_valid"
        assert "clock" in (info.value.hint or "")


def test_encrypted_key(pki):
    crt, key = pki.path("enc.crt"), pki.path("enc.key")
    with pytest.raises(TLSConfigError, match="is encrypted and no passphrase was given"):
        server_context(crt, key)
    with pytest.raises(TLSConfigError, match="wrong passphrase") as info:
        server_context(crt, key, password="not it")
    assert "not it" not in str(info.value)
    assert PASSPHRASE not in str(info.value)
    ctx = server_context(crt, key, password=PASSPHRASE)
    assert ctx.verify_mode == ssl.CERT_NONE
    server_context(crt, key, password=PASSPHRASE.encode())


def test_wrong_purpose_is_refused(pki):
    with pytest.raises(TLSConfigError, match="not a server certificate"):
        server_context(pki.path("alice.crt"), pki.path("alice.key"))
    with pytest.raises(TLSConfigError, match="not a client certificate"):
        client_context(pki.ca_file, pki.path("server.crt"), pki.path("server.key"))
    with pytest.raises(TLSConfigError, match="starts with a CA certificate"):
        server_context(pki.path("ca/ca.crt"), pki.path("ca/ca.key"))


def test_leaf_as_ca_is_refused(pki):
    with pytest.raises(TLSConfigError, match="not a CA") as info:
        client_context(ca=pki.path("server.crt"))
    assert "ca.crt" in (info.value.hint or "")


def test_load_server_certificate_keeps_context_on_failure(pki):
    ctx = server_context(pki.path("server.crt"), pki.path("server.key"))
    with pytest.raises(TLSConfigError):
        load_server_certificate(ctx, pki.path("expired.crt"), pki.path("expired.key"))
    load_server_certificate(ctx, pki.path("backup.crt"), pki.path("backup.key"))
