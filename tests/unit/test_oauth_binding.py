"""Certificate-bound tokens (RFC 8705 §3) and client records: the framework-free helpers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
from pathlib import Path

import pytest

from sealbox.accounts.binding import (
    certificate_thumbprint,
    check_binding,
    check_binding_thumbprint,
    cnf_claim,
    thumbprint_from_digest,
)
from sealbox.accounts.clients import ClientStore, hash_client_secret
from sealbox.exceptions import TokenError
from sealbox.tls.ca import CertificateAuthority


def _der(tmp_path: Path, name: str) -> bytes:
    cert, _key = (
        CertificateAuthority.generate(name="binding CA").issue_client(name).write(tmp_path / name)
    )
    leaf = cert.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    return ssl.PEM_cert_to_DER_cert(leaf)


def test_the_thumbprint_is_base64url_of_the_sha256_of_the_der_without_padding(
    tmp_path: Path,
) -> None:
    der = _der(tmp_path, "a")
    digest = hashlib.sha256(der).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert certificate_thumbprint(der) == thumbprint_from_digest(digest) == expected
    assert len(expected) == 43 and "=" not in expected
    assert cnf_claim(expected) == {"cnf": {"x5t#S256": expected}}


def test_a_bound_token_passes_only_with_its_certificate(tmp_path: Path) -> None:
    a, b = _der(tmp_path, "a"), _der(tmp_path, "b")
    claims = {"sub": "x", **cnf_claim(certificate_thumbprint(a))}
    check_binding(claims, a)
    for other in (b, None):
        with pytest.raises(TokenError) as info:
            check_binding(claims, other)
        assert info.value.code == "token_binding_mismatch"


def test_an_unbound_token_passes_with_or_without_a_certificate(tmp_path: Path) -> None:
    check_binding({"sub": "x"}, _der(tmp_path, "a"))
    check_binding({"sub": "x"}, None)


@pytest.mark.parametrize("cnf", [{"jkt": "abc"}, "x5t", {"x5t#S256": 5}, {"x5t#S256": ""}])
def test_a_confirmation_sealbox_does_not_check_is_refused_not_ignored(cnf: object) -> None:
    with pytest.raises(TokenError) as info:
        check_binding_thumbprint({"cnf": cnf}, "anything")
    assert info.value.code == "token_binding_unsupported"


def test_a_new_secret_never_shows_in_a_repr_and_is_stored_only_as_its_hash(tmp_path: Path) -> None:
    from sqlalchemy import select

    from sealbox.accounts.clients import OAuthClient
    from sealbox.service.db import make_engine, migrate, sessionmaker

    async def run() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        await migrate(engine)
        sessions = sessionmaker(engine)
        store = ClientStore(sessions)
        made = await store.create("svc", ["users:me"])
        assert made.secret is not None
        secret = made.secret.expose_secret()
        assert secret not in repr(made) and secret not in str(made.client.to_dict())
        async with sessions() as session:
            row = (await session.execute(select(OAuthClient))).scalar_one()
        assert row.secret_hash == hash_client_secret(secret)
        assert await store.authenticate_secret(made.client.client_id, secret) is not None
        assert await store.authenticate_secret(made.client.client_id, secret[:-1]) is None
        assert await store.authenticate_secret("sbc_nobody", secret) is None
        await engine.dispose()

    asyncio.run(run())


def test_a_token_bound_to_a_certificate_is_refused_with_its_renewal_same_key_or_new(
    tmp_path: Path,
) -> None:
    # docs/bound-tokens.md: the thumbprint is of the certificate, not of its key.
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    ca = CertificateAuthority.generate(name="binding CA")
    issued = ca.issue_client("worker")
    first = issued.certificate
    claims = {"sub": "x", **cnf_claim(certificate_thumbprint(first.public_bytes(Encoding.DER)))}
    same_key = ca.renew(first, key=issued.private_key).certificate
    new_key = ca.renew(first).certificate
    assert same_key.public_key() == first.public_key()
    for renewed in (same_key, new_key):
        assert isinstance(renewed, x509.Certificate)
        with pytest.raises(TokenError) as info:
            check_binding(claims, renewed.public_bytes(Encoding.DER))
        assert info.value.code == "token_binding_mismatch"
