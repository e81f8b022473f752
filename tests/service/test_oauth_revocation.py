"""RFC 7009 revocation and RFC 7662 introspection over real HTTPS, and certificate-bound
access tokens (RFC 8705 §3) with two client certificates."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealbox.service.provision import DataDir
from tests.conftest import require_tool
from tests.service._oauth import AuthServer, Registered, auth_server
from tests.service.conftest import bearer, login, register


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _user_tokens(authz: AuthServer, name: str = "alice", **kw: Any) -> dict[str, Any]:
    with authz.client(**kw) as c:
        register(c, name)
        answer = login(c, name)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _revoke(authz: AuthServer, client: Registered, token: str, **kw: Any) -> Any:
    with authz.client(**kw) as c:
        return c.post("/auth/revoke", data={"token": token}, headers=client.basic)


def _introspect(authz: AuthServer, client: Registered, token: str) -> Any:
    with authz.client() as c:
        return c.post("/auth/introspect", data={"token": token}, headers=client.basic)


def _me(authz: AuthServer, token: str, cert: Any = None) -> Any:
    with authz.client(cert=cert) as c:
        return c.get("/users/me", headers=bearer(token))


# -- revocation ----------------------------------------------------------------------------


def test_revoking_a_refresh_token_ends_its_family_and_its_access_tokens(authz) -> None:
    rs = authz.register("resource-server", "tokens:revoke")
    tokens = _user_tokens(authz)
    assert _me(authz, tokens["access_token"]).status_code == 200
    answer = _revoke(authz, rs, tokens["refresh_token"])
    assert answer.status_code == 200
    with authz.client() as c:
        again = c.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    refused = _me(authz, tokens["access_token"])
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"


def test_revoking_an_access_token_refuses_it_at_once(authz) -> None:
    client = authz.register("reporting", "users:me")
    token = authz.client_token(client).json()["access_token"]
    assert _introspect(authz, client, token).json()["active"] is True
    assert _revoke(authz, client, token).status_code == 200
    assert _introspect(authz, client, token).json() == {"active": False}
    with authz.client() as c:
        refused = c.get("/v1/keys", headers=bearer(token))
    assert refused.status_code == 401
    user = _user_tokens(authz)
    rs = authz.register("resource-server", "tokens:revoke")
    assert _me(authz, user["access_token"]).status_code == 200  # cached as verified
    assert _revoke(authz, rs, user["access_token"]).status_code == 200
    assert _me(authz, user["access_token"]).status_code == 401


def test_unknown_expired_and_garbage_tokens_are_revoked_with_200(authz) -> None:
    client = authz.register("reporting", "users:me")
    keyset = DataDir(authz.svc.settings.data_dir).load_keyset()
    expired = keyset.issue(
        client.client_id,
        audience="sealbox",
        issuer="sealbox",
        ttl=60,
        claims={"client_id": client.client_id, "gty": "client_credentials"},
        now=time.time() - 3600,
    )
    for token in ("sbr_unknown", "not a token at all", expired, "x" * 5000):
        answer = _revoke(authz, client, token)
        assert answer.status_code == 200, (token[:20], answer.text)


def test_revocation_needs_client_authentication(authz) -> None:
    user = _user_tokens(authz)
    with authz.client() as c:
        anonymous = c.post("/auth/revoke", data={"token": user["refresh_token"]})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    assert anonymous.headers["www-authenticate"].startswith("Basic")


def test_a_client_may_not_revoke_another_clients_token_without_tokens_revoke(authz) -> None:
    owner = authz.register("owner", "users:me")
    other = authz.register("other", "users:me")
    token = authz.client_token(owner).json()["access_token"]
    answer = _revoke(authz, other, token)
    assert answer.status_code == 400
    assert answer.json()["error"] == "unauthorized_client"
    assert _introspect(authz, owner, token).json()["active"] is True


def test_the_first_party_public_client_revokes_its_own_refresh_token(authz) -> None:
    user = _user_tokens(authz)
    with authz.client() as c:
        answer = c.post(
            "/auth/revoke",
            data={"token": user["refresh_token"], "client_id": "sealbox-first-party"},
        )
    assert answer.status_code == 200
    assert _me(authz, user["access_token"]).status_code == 401


def test_curl_revokes_and_introspects(authz) -> None:
    curl = require_tool("curl")
    client = authz.register("reporting", "users:me")
    token = authz.client_token(client).json()["access_token"]

    def call(path: str) -> bytes:
        return subprocess.run(
            [
                curl,
                "-sS",
                "--cacert",
                str(authz.svc.ca),
                "-u",
                f"{client.client_id}:{client.secret}",
                "-d",
                f"token={token}",
                f"{authz.svc.url}{path}",
            ],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout

    assert json.loads(call("/auth/introspect"))["active"] is True
    assert call("/auth/revoke") == b""
    assert json.loads(call("/auth/introspect")) == {"active": False}


# -- introspection -------------------------------------------------------------------------


def test_introspection_answers_the_claims_and_scope_of_a_live_token(authz) -> None:
    rs = authz.register("resource-server", "users:me", "tokens:introspect")
    user = _user_tokens(authz)
    live = _introspect(authz, rs, user["access_token"]).json()
    assert live["active"] is True
    assert live["username"] == live["sub"] == "alice"
    assert live["scope"] == "users:me"
    assert live["client_id"] == "sealbox-first-party"
    assert live["token_type"] == "Bearer"
    assert live["iss"] == "sealbox"
    assert live["exp"] > time.time()
    refresh = _introspect(authz, rs, user["refresh_token"]).json()
    assert refresh["active"] is True
    assert refresh["token_type"] == "refresh_token"
    assert refresh["username"] == "alice"
    machine = _introspect(authz, rs, authz.client_token(rs).json()["access_token"]).json()
    assert machine["active"] is True
    assert machine["sub"] == machine["client_id"] == rs.client_id
    assert "username" not in machine


def test_introspection_omits_the_client_id_of_an_access_token_without_one(authz) -> None:
    # RFC 7662 §2.2: an optional member without a value is left out, not answered null.
    rs = authz.register("resource-server", "users:me", "tokens:introspect")
    user = _user_tokens(authz)
    uid = _claims(user["access_token"])["uid"]
    keyset = DataDir(authz.svc.settings.data_dir).load_keyset()
    token = keyset.issue(
        "alice", audience="sealbox", issuer="sealbox", scope=["users:me"], claims={"uid": uid}
    )
    live = _introspect(authz, rs, token).json()
    assert live["active"] is True
    assert live["sub"] == "alice"
    assert "client_id" not in live


def test_introspection_says_only_inactive_for_revoked_expired_and_garbage(authz) -> None:
    rs = authz.register("resource-server", "users:me", "tokens:revoke", "tokens:introspect")
    user = _user_tokens(authz)
    _revoke(authz, rs, user["access_token"])
    keyset = DataDir(authz.svc.settings.data_dir).load_keyset()
    expired = keyset.issue(
        "alice",
        audience="sealbox",
        issuer="sealbox",
        ttl=60,
        claims={"uid": 1, "client_id": "sealbox-first-party"},
        now=time.time() - 3600,
    )
    foreign = keyset.issue("alice", audience="someone-else", issuer="sealbox", claims={"uid": 1})
    for token in (user["access_token"], expired, foreign, "garbage", "sbr_garbage", "a.b.c"):
        answer = _introspect(authz, rs, token)
        assert answer.status_code == 200
        assert answer.json() == {"active": False}, token[:20]
    # A refresh token that was used (rotated) is not live any more.
    with authz.client() as c:
        c.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": user["refresh_token"]},
        )
    assert _introspect(authz, rs, user["refresh_token"]).json() == {"active": False}


def test_introspection_needs_client_authentication(authz) -> None:
    user = _user_tokens(authz)
    with authz.client() as c:
        anonymous = c.post("/auth/introspect", data={"token": user["access_token"]})
        public = c.post(
            "/auth/introspect",
            data={"token": user["access_token"], "client_id": "sealbox-first-party"},
        )
        with_bearer = c.post(
            "/auth/introspect",
            data={"token": user["access_token"]},
            headers=bearer(user["access_token"]),
        )
    for answer in (anonymous, public, with_bearer):
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"
        assert "active" not in answer.json()


# -- certificate-bound tokens --------------------------------------------------------------


def test_a_login_over_mtls_binds_the_token_to_that_certificate_only(authz) -> None:
    tokens = _user_tokens(authz, cert=authz.cert_a)
    claims = _claims(tokens["access_token"])
    assert set(claims["cnf"]) == {"x5t#S256"}
    assert _me(authz, tokens["access_token"], cert=authz.cert_a).status_code == 200
    for cert in (authz.cert_b, None):
        refused = _me(authz, tokens["access_token"], cert=cert)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]


def test_a_refresh_over_mtls_binds_the_new_token_to_the_refreshing_certificate(authz) -> None:
    tokens = _user_tokens(authz)
    assert "cnf" not in _claims(tokens["access_token"])
    assert _me(authz, tokens["access_token"]).status_code == 200  # unbound: anywhere
    assert _me(authz, tokens["access_token"], cert=authz.cert_b).status_code == 200
    with authz.client(cert=authz.cert_b) as c:
        again = c.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        ).json()
    assert _me(authz, again["access_token"], cert=authz.cert_b).status_code == 200
    assert _me(authz, again["access_token"], cert=authz.cert_a).status_code == 401


def test_a_client_token_over_mtls_is_refused_by_transit_with_another_certificate(authz) -> None:
    client = authz.register("reporting", "transit:admin", "transit:encrypt:orders")
    token = authz.client_token(client, cert=authz.cert_a).json()["access_token"]
    assert "cnf" in _claims(token)
    with authz.client(cert=authz.cert_a) as c:
        assert c.post("/v1/keys/orders", json={}, headers=bearer(token)).status_code in (200, 201)
        good = c.post(
            "/v1/keys/orders/encrypt", json={"plaintext": "aGVsbG8="}, headers=bearer(token)
        )
    assert good.status_code == 200
    for cert in (authz.cert_b, None):
        with authz.client(cert=cert) as c:
            # The transit fast path and the FastAPI routes both check the binding.
            fast = c.post(
                "/v1/keys/orders/encrypt", json={"plaintext": "aGVsbG8="}, headers=bearer(token)
            )
            routed = c.get("/v1/keys/orders", headers=bearer(token))
        assert fast.status_code == routed.status_code == 401
        assert fast.json()["error"] == "invalid_token"


def test_introspection_shows_the_binding(authz) -> None:
    rs = authz.register("resource-server", "users:me", "tokens:introspect")
    tokens = _user_tokens(authz, cert=authz.cert_a)
    answer = _introspect(authz, rs, tokens["access_token"]).json()
    assert answer["active"] is True
    assert answer["cnf"] == _claims(tokens["access_token"])["cnf"]


def test_the_first_party_public_client_may_not_revoke_a_machine_clients_token(authz) -> None:
    client = authz.register("reporting", "users:me")
    token = authz.client_token(client).json()["access_token"]
    with authz.client() as c:
        answer = c.post("/auth/revoke", data={"token": token, "client_id": "sealbox-first-party"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "unauthorized_client"
    assert _introspect(authz, client, token).json()["active"] is True


def test_account_routes_refuse_a_client_token_with_user_token_required(authz) -> None:
    client = authz.register("reporting", "users:me")
    token = authz.client_token(client).json()["access_token"]
    with authz.client() as c:
        logout = c.post("/auth/logout", json={"refresh_token": "sbr_x"}, headers=bearer(token))
        password = c.post(
            "/auth/password",
            json={"current_password": "x" * 10, "new_password": "y" * 10},
            headers=bearer(token),
        )
    for answer in (logout, password):
        assert answer.status_code == 403
        assert answer.json()["error"] == "user_token_required"


def _refresh(authz: AuthServer, refresh_token: str, cert: Any = None) -> Any:
    with authz.client(cert=cert) as c:
        return c.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
        )


def test_a_refresh_family_begun_over_mtls_refreshes_only_with_that_certificate(authz) -> None:
    tokens = _user_tokens(authz, cert=authz.cert_a)
    for cert in (authz.cert_b, None):
        # A thief with the refresh token but not the key gets nothing, and burns nothing.
        refused = _refresh(authz, tokens["refresh_token"], cert=cert)
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
        with authz.client(cert=cert) as c:
            json_route = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert json_route.status_code == 400
    again = _refresh(authz, tokens["refresh_token"], cert=authz.cert_a)
    assert again.status_code == 200, again.text
    newer = again.json()
    assert _claims(newer["access_token"])["cnf"] == _claims(tokens["access_token"])["cnf"]
    # The family stays bound through its rotations.
    assert _refresh(authz, newer["refresh_token"]).status_code == 400
    rs = authz.register("resource-server", "users:me", "tokens:introspect")
    seen = _introspect(authz, rs, newer["refresh_token"]).json()
    assert seen["active"] is True
    assert seen["cnf"] == _claims(tokens["access_token"])["cnf"]


def test_introspection_calls_a_token_past_its_exp_inactive_within_the_verifiers_leeway(
    authz,
) -> None:
    # RFC 7662 §2.2: active means within the token's validity window. The verifier's few
    # seconds of leeway are for other hosts' clocks; introspection is the issuer's clock.
    rs = authz.register("resource-server", "users:me", "tokens:introspect")
    user = _user_tokens(authz)
    uid = _claims(user["access_token"])["uid"]
    keyset = DataDir(authz.svc.settings.data_dir).load_keyset()
    just_expired = keyset.issue(
        "alice",
        audience="sealbox",
        issuer="sealbox",
        ttl=60,
        scope=["users:me"],
        claims={"uid": uid},
        now=time.time() - 61,
    )
    assert _introspect(authz, rs, just_expired).json() == {"active": False}
