"""A client certificate from the ASGI TLS extension is read once per certificate, not on
every request of the connection, and the kept identities stay bounded."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sealbox.integrations.fastapi import client_cert
from sealbox.integrations.fastapi.client_cert import scope_client_identity

_KEY = ec.generate_private_key(ec.SECP256R1())


def _pem(cn: str) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(_KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _scope(pem: str) -> dict[str, object]:
    return {"extensions": {"tls": {"client_cert_chain": [pem]}}}


def test_the_same_certificate_is_read_once_and_each_certificate_as_itself() -> None:
    first, second = _pem("worker-1"), _pem("worker-2")
    one = scope_client_identity(_scope(first))
    assert one is not None and one.common_name == "worker-1"
    assert scope_client_identity(_scope(first)) is one
    other = scope_client_identity(_scope(second))
    assert other is not None and other.common_name == "worker-2"
    assert scope_client_identity(_scope("not a certificate")) is None


def test_the_kept_certificates_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_cert, "_READ_MAX", 3)
    monkeypatch.setattr(client_cert, "_READ", {})
    pems = [_pem(f"worker-{i}") for i in range(7)]
    for i, pem in enumerate(pems):
        identity = scope_client_identity(_scope(pem))
        assert identity is not None and identity.common_name == f"worker-{i}"
        assert len(client_cert._READ) <= 3
