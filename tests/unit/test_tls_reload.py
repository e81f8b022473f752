"""Reloading a running server context: the old pair keeps serving unless the new one loads."""

from __future__ import annotations

import os
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sealbox.exceptions import TLSConfigError
from sealbox.tls import _load
from sealbox.tls.context import client_context, load_server_certificate, server_context
from tests._tls import TLSServer


@pytest.fixture(scope="module")
def ca():
    return trustme.CA(key_type=trustme.KeyType.ECDSA)


def _write(root: Path, name: str, leaf: trustme.LeafCert) -> tuple[str, str]:
    crt, key = root / f"{name}.crt", root / f"{name}.key"
    crt.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    return str(crt), str(key)


def _served(ca: trustme.CA, port: int, tmp_path: Path) -> x509.Certificate:
    ca.cert_pem.write_to_path(str(tmp_path / "trust.pem"))
    ctx = client_context(ca=tmp_path / "trust.pem")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _leaf(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def test_a_pair_of_another_key_type_is_refused_on_reload_as_the_old_one_would_stay_served(
    ca, tmp_path
):
    # OpenSSL keeps one certificate per key type: loading an RSA pair into a context serving
    # an ECDSA one adds it beside the old one, which clients preferring ECDSA keep getting.
    crt, key = _write(tmp_path, "ec", ca.issue_cert("localhost", key_type=trustme.KeyType.ECDSA))
    rsa_crt, rsa_key = _write(
        tmp_path, "rsa", ca.issue_cert("localhost", key_type=trustme.KeyType.RSA)
    )
    ctx = server_context(crt, key)
    with pytest.raises(TLSConfigError) as info:
        load_server_certificate(ctx, rsa_crt, rsa_key)
    assert info.value.code == "key_type_changed"
    assert info.value.facts == {"serving": "ECDSA", "new": "RSA"}
    assert "server_context" in (info.value.hint or "")
    with TLSServer(ctx) as srv:
        assert _served(ca, srv.port, tmp_path) == _leaf(crt)
    # The same key type reloads as before.
    crt2, key2 = _write(tmp_path, "ec2", ca.issue_cert("localhost"))
    load_server_certificate(ctx, crt2, key2)
    with TLSServer(ctx) as srv:
        assert _served(ca, srv.port, tmp_path) == _leaf(crt2)


@pytest.mark.parametrize("replacement", ["the certificate", "both files, by an expired pair"])
def test_files_replaced_between_the_checks_and_the_load_never_reach_the_context(
    ca, tmp_path, monkeypatch, replacement
):
    # A renewal writing the files while the server reloads: OpenSSL must load what was
    # checked, never a certificate without its key nor a pair no check has seen.
    old_crt, old_key = _write(tmp_path, "old", ca.issue_cert("localhost"))
    live_crt, live_key = _write(tmp_path, "live", ca.issue_cert("localhost"))
    checked_leaf = _leaf(live_crt)
    expired = ca.issue_cert("localhost", not_after=datetime.now(UTC) - timedelta(days=1))
    new_crt, new_key = _write(tmp_path, "new", expired)
    ctx = server_context(old_crt, old_key)
    check = _load.check_validity
    renewed: list[bool] = []

    def check_then_renew(*args, **kwargs):
        check(*args, **kwargs)
        if not renewed:  # the renewal lands right after the checks
            renewed.append(True)
            os.replace(shutil.copy(new_crt, tmp_path / "tmp.crt"), live_crt)
            if replacement != "the certificate":
                os.replace(shutil.copy(new_key, tmp_path / "tmp.key"), live_key)

    monkeypatch.setattr(_load, "check_validity", check_then_renew)
    load_server_certificate(ctx, live_crt, live_key)
    monkeypatch.undo()
    assert renewed
    with TLSServer(ctx) as srv:
        assert _served(ca, srv.port, tmp_path) == checked_leaf


def _weak_chain(ca: trustme.CA, root: Path) -> tuple[str, str]:
    """A leaf under an intermediate with an RSA-1024 key, which OpenSSL's security level
    refuses in a chain while loading it, after the checks that come before."""
    root_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    now = datetime.now(UTC)
    inter_key = rsa.generate_private_key(65537, 1024)
    inter_ski = x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key())
    inter = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak intermediate")]))
        .issuer_name(root_cert.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(inter_ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(inter.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=5))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(inter_ski),
            critical=False,
        )
        .sign(inter_key, hashes.SHA256())
    )
    crt, key = root / "weak.crt", root / "weak.key"
    pem = serialization.Encoding.PEM
    crt.write_bytes(leaf.public_bytes(pem) + inter.public_bytes(pem))
    key.write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(crt), str(key)


def test_a_chain_openssl_refuses_while_loading_leaves_the_old_pair_serving(ca, tmp_path):
    crt, key = _write(tmp_path, "old", ca.issue_cert("localhost"))
    ctx = server_context(crt, key)
    weak_crt, weak_key = _weak_chain(ca, tmp_path)
    with pytest.raises(TLSConfigError, match="ca key too small"):
        load_server_certificate(ctx, weak_crt, weak_key)
    with TLSServer(ctx) as srv:
        assert _served(ca, srv.port, tmp_path) == _leaf(crt)


def test_a_ca_file_replaced_after_its_check_is_not_the_one_trusted(ca, tmp_path, monkeypatch):
    # A client context trusts the CA certificates it checked, not the file read again: a
    # bundle rewritten right after the check (a rotation, or an attacker's CA) never gets in.
    other = trustme.CA(key_type=trustme.KeyType.ECDSA)
    trust = tmp_path / "trust.pem"
    ca.cert_pem.write_to_path(str(trust))
    check = _load.check_validity
    swapped: list[bool] = []

    def check_then_swap(*args, **kwargs):
        check(*args, **kwargs)
        if not swapped:
            swapped.append(True)
            other.cert_pem.write_to_path(str(tmp_path / "other.pem"))
            os.replace(tmp_path / "other.pem", trust)

    monkeypatch.setattr(_load, "check_validity", check_then_swap)
    ctx = client_context(ca=trust)
    monkeypatch.undo()
    assert swapped
    crt, key = _write(tmp_path, "srv", ca.issue_cert("localhost"))
    with (
        TLSServer(server_context(crt, key)) as srv,
        socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.getpeercert() is not None  # the checked CA is the one trusted
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
