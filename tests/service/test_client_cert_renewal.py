"""RFC 8705 §7.1 over real mutual TLS, on SQLite and on PostgreSQL with Redis: the refresh
family of a client that authenticates is bound to the client, not to a certificate, so a
``tls_client_auth`` client whose certificate is renewed (a new key, the same subject) keeps
refreshing, and each access token is bound to the certificate of its own connection. The
family of the public first-party client stays bound to its certificate (§4)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import text

from sealbox.accounts import make_engine
from sealbox.accounts.binding import certificate_thumbprint
from sealbox.accounts.store import hash_refresh_token
from sealbox.tls.ca import CertificateAuthority
from tests.service._oauth import AuthServer, Registered, auth_server_on
from tests.service.conftest import PASSWORD, bearer, register


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def authz(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """One server per backend for the module: each test uses names of its own."""
    with auth_server_on(
        request.param, tmp_path_factory.mktemp("cert-renewal"), "cert_renewal"
    ) as server:
        yield server


def _renewed(authz: AuthServer, name: str, folder: Path) -> tuple[tuple[Path, Path], str]:
    """A new certificate and key for the subject ``name`` (a renewal with ``--new-key``):
    its files and its ``x5t#S256``."""
    ca = CertificateAuthority.load(authz.svc.settings.data_dir / "tls")
    issued = ca.issue_client(name)
    cert, key = issued.write(folder)
    return (Path(cert), Path(key)), certificate_thumbprint(
        issued.certificate.public_bytes(Encoding.DER)
    )


def _thumbprint(cert: tuple[Path, Path]) -> str:
    der = x509.load_pem_x509_certificate(cert[0].read_bytes()).public_bytes(Encoding.DER)
    return certificate_thumbprint(der)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _login(c: httpx2.Client, name: str, **form: str) -> dict[str, Any]:
    register(c, name)
    answer = c.post(
        "/auth/token",
        data={"grant_type": "password", "username": name, "password": PASSWORD, **form},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _refresh(c: httpx2.Client, token: str, **form: str) -> httpx2.Response:
    return c.post(
        "/auth/token", data={"grant_type": "refresh_token", "refresh_token": token, **form}
    )


def _me(authz: AuthServer, token: str, cert: tuple[Path, Path] | None) -> int:
    with authz.client(cert=cert) as c:
        return c.get("/users/me", headers=bearer(token)).status_code


def test_a_tls_client_auth_client_refreshes_with_its_renewed_certificate(
    authz: AuthServer, tmp_path: Path
) -> None:
    app = authz.register("renewing", "users:me", cert=authz.cert_a, secret=False)
    with authz.client(cert=authz.cert_a) as c:
        issued = _login(c, "renew-ada", client_id=app.client_id)
    assert _claims(issued["access_token"])["cnf"] == {"x5t#S256": _thumbprint(authz.cert_a)}
    renewed, thumbprint = _renewed(authz, "reporter-a", tmp_path / "a-renewed")
    assert thumbprint != _thumbprint(authz.cert_a)
    with authz.client(cert=renewed) as c:
        fresh = _refresh(c, issued["refresh_token"], client_id=app.client_id)
        assert fresh.status_code == 200, fresh.text
        again = _refresh(c, fresh.json()["refresh_token"], client_id=app.client_id)
    assert again.status_code == 200, again.text
    access = fresh.json()["access_token"]
    assert _claims(access)["cnf"] == {"x5t#S256": thumbprint}
    assert _claims(access)["client_id"] == app.client_id
    assert _me(authz, access, renewed) == 200
    # The new access token is the renewed certificate's: the old one, or none, is refused.
    assert _me(authz, access, authz.cert_a) == 401
    assert _me(authz, access, None) == 401


def test_a_client_family_is_still_refreshed_by_that_client_alone(authz: AuthServer) -> None:
    app = authz.register("renewing-only", "users:me", cert=authz.cert_a, secret=False)
    other = authz.register("renewing-other", "users:me", cert=authz.cert_b, secret=False)
    with authz.client(cert=authz.cert_a) as c:
        issued = _login(c, "renew-bea", client_id=app.client_id)
    token = issued["refresh_token"]
    with authz.client(cert=authz.cert_b) as c:
        by_other = _refresh(c, token, client_id=other.client_id)
        by_public = c.post("/auth/refresh", json={"refresh_token": token})
        unauthenticated = _refresh(c, token)
    with authz.client() as c:
        named_only = _refresh(c, token, client_id=app.client_id)
    for refused in (by_other, by_public, unauthenticated):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_grant"
    assert named_only.status_code == 401 and named_only.json()["error"] == "invalid_client"
    with authz.client(cert=authz.cert_a) as c:
        assert _refresh(c, token, client_id=app.client_id).status_code == 200


def test_a_secret_client_family_refreshes_over_another_certificate_or_none(
    authz: AuthServer,
) -> None:
    app = authz.register("renewing-secret", "users:me")
    with authz.client(cert=authz.cert_a) as c:
        issued = _login_basic(c, "renew-cid", app)
    assert "cnf" in _claims(issued["access_token"])
    with authz.client(cert=authz.cert_b) as c:
        over_b = _refresh_basic(c, issued["refresh_token"], app)
    assert over_b.status_code == 200, over_b.text
    assert _claims(over_b.json()["access_token"])["cnf"] == {"x5t#S256": _thumbprint(authz.cert_b)}
    with authz.client() as c:
        plain = _refresh_basic(c, over_b.json()["refresh_token"], app)
    assert plain.status_code == 200, plain.text
    assert "cnf" not in _claims(plain.json()["access_token"])


def _login_basic(c: httpx2.Client, name: str, app: Registered) -> dict[str, Any]:
    register(c, name)
    form = {"grant_type": "password", "username": name, "password": PASSWORD}
    answer = c.post("/auth/token", data=form, headers=app.basic)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _refresh_basic(c: httpx2.Client, token: str, app: Registered) -> httpx2.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    return c.post("/auth/token", data=form, headers=app.basic)


def test_a_public_family_still_refuses_a_renewed_certificate(
    authz: AuthServer, tmp_path: Path
) -> None:
    with authz.client(cert=authz.cert_a) as c:
        issued = _login(c, "renew-dot")
    renewed, _ = _renewed(authz, "reporter-a", tmp_path / "a-renewed")
    with authz.client(cert=renewed) as c:
        refused = _refresh(c, issued["refresh_token"])
    with authz.client(cert=renewed) as c:
        refused_json = c.post("/auth/refresh", json={"refresh_token": issued["refresh_token"]})
    for answer in (refused, refused_json):
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_grant"
    with authz.client(cert=authz.cert_a) as c:
        kept = _refresh(c, issued["refresh_token"])  # the refusals left the family alive
    assert kept.status_code == 200, kept.text
    assert _claims(kept.json()["access_token"])["cnf"] == {"x5t#S256": _thumbprint(authz.cert_a)}


def test_a_client_family_bound_to_a_certificate_before_is_refreshed_with_a_renewed_one(
    authz: AuthServer, tmp_path: Path
) -> None:
    # A family a certificate client was issued before sealbox bound its families to the
    # client alone carries the certificate's thumbprint: the client's authentication binds
    # it now, and its refresh token's introspection names no certificate.
    app = authz.register("renewing-older", "users:me", cert=authz.cert_a, secret=False)
    with authz.client(cert=authz.cert_a) as c:
        issued = _login(c, "renew-eve", client_id=app.client_id)
    _bind_as_before(authz, issued["refresh_token"], _thumbprint(authz.cert_a))
    renewed, thumbprint = _renewed(authz, "reporter-a", tmp_path / "a-renewed")
    with authz.client(cert=renewed) as c:
        seen = c.post(
            "/auth/introspect",
            data={"token": issued["refresh_token"], "client_id": app.client_id},
        )
        fresh = _refresh(c, issued["refresh_token"], client_id=app.client_id)
    assert seen.status_code == 200, seen.text
    assert seen.json()["active"] is True
    assert "cnf" not in seen.json()
    assert fresh.status_code == 200, fresh.text
    assert _claims(fresh.json()["access_token"])["cnf"] == {"x5t#S256": thumbprint}


def _bind_as_before(authz: AuthServer, token: str, thumbprint: str) -> None:
    """Give the stored refresh token the certificate binding earlier versions wrote."""

    async def run() -> None:
        engine = make_engine(authz.svc.settings.resolved_database_url())
        try:
            async with engine.begin() as conn:
                done = await conn.execute(
                    text("UPDATE refresh_tokens SET cnf_x5t = :t WHERE token_hash = :h"),
                    {"t": thumbprint, "h": hash_refresh_token(token)},
                )
                assert done.rowcount == 1
        finally:
            await engine.dispose()

    asyncio.run(run())
