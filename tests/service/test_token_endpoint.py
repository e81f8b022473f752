"""The OAuth 2 token endpoint as standard clients use it: both grants, RFC 6749 errors, RFC 9068 claims."""

from __future__ import annotations

import base64
import json

import pytest

from sealbox.jwt import TokenVerifier
from sealbox.service.provision import DataDir
from tests.conftest import require_module
from tests.service.conftest import (
    PASSWORD,
    Running,
    bearer,
    login,
    make_settings,
    register,
    run_service,
)


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    """One service for the module: each test signs in under a name of its own, and the few
    refused requests stay far below the address limit."""
    return module_service


def _verify(service, token: str) -> dict:
    keyset = DataDir(service.settings.data_dir).load_keyset()
    return TokenVerifier(keyset, audience="sealbox", issuer="sealbox").verify(token)


def test_access_tokens_carry_client_id_and_at_jwt_type(service) -> None:
    with service.client() as c:
        register(c, "claims")
        r = c.post(
            "/auth/token",
            data={"grant_type": "password", "username": "claims", "password": PASSWORD},
        )
        token = r.json()["access_token"]
    claims = _verify(service, token)
    # RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti are required.
    for name in ("iss", "exp", "aud", "sub", "client_id", "iat", "jti"):
        assert name in claims, name
    assert claims["client_id"] == "sealbox-first-party"
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"


def test_an_independent_jwt_library_reads_the_rfc_9068_claims_through_jwks(service) -> None:
    import jwt  # PyJWT: verifies with the published JWKS, as a resource server would

    with service.client() as c:
        register(c, "resource")
        token = c.post("/auth/token", data={"username": "resource", "password": PASSWORD})
        jwks = c.get("/.well-known/jwks.json").json()
    token = token.json()["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(
        token,
        key,
        algorithms=[key.algorithm_name],
        audience="sealbox",
        issuer="sealbox",
        options={"require": ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"]},
    )
    assert claims["client_id"] == "sealbox-first-party"
    assert claims["sub"] == "resource"


def test_the_token_endpoint_refreshes_with_rotation(service) -> None:
    with service.client() as c:
        register(c, "rota")
        first = c.post("/auth/token", data={"username": "rota", "password": PASSWORD}).json()
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        second = c.post("/auth/token", data=form)
        assert second.status_code == 200
        assert second.json()["refresh_token"] != first["refresh_token"]
        assert c.get("/users/me", headers=bearer(second.json()["access_token"])).status_code == 200
        # The same reuse detection as /auth/refresh: the replay ends the family.
        replay = c.post("/auth/token", data=form)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        assert replay.json()["error_description"] == "the refresh token is not valid"
        nxt = {"grant_type": "refresh_token", "refresh_token": second.json()["refresh_token"]}
        assert c.post("/auth/token", data=nxt).status_code == 400


def test_a_used_refresh_token_asking_a_wider_scope_is_reuse_and_ends_the_family(service) -> None:
    # A replayed (rotated) token is theft whatever scope it asks for: answered invalid_scope,
    # it told the replayer the family is live and left the family running.
    with service.client() as c:
        register(c, "rewiden")
        first = c.post("/auth/token", data={"username": "rewiden", "password": PASSWORD}).json()
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        second = c.post("/auth/token", data=form).json()
        unknown = c.post("/auth/token", data={**form, "refresh_token": "sbr_unknown"})
        replay = c.post("/auth/token", data={**form, "scope": "users:me users:admin"})
        assert replay.status_code == 400, replay.text
        assert replay.json() == unknown.json()
        nxt = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
        assert c.post("/auth/token", data=nxt).json()["error"] == "invalid_grant"
        assert c.get("/users/me", headers=bearer(second["access_token"])).status_code == 401


def test_a_retry_within_the_reuse_grace_asking_a_wider_scope_is_invalid_scope(tmp_path) -> None:
    settings = make_settings(tmp_path / "data", refresh_reuse_grace=60.0)
    with run_service(settings) as running, running.client() as c:
        register(c, "gracewide")
        first = login(c, "gracewide").json()
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        second = c.post("/auth/token", data=form).json()
        wider = c.post("/auth/token", data={**form, "scope": "users:me users:admin"})
        assert wider.status_code == 400, wider.text
        assert wider.json()["error"] == "invalid_scope"
        # No reuse: the retry within the grace still works, and so does the family.
        assert c.post("/auth/token", data=form).status_code == 200
        nxt = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
        assert c.post("/auth/token", data=nxt).status_code == 200


def test_a_live_refresh_token_asking_a_wider_scope_is_invalid_scope_and_stays_valid(
    service,
) -> None:
    with service.client() as c:
        register(c, "widen")
        first = c.post("/auth/token", data={"username": "widen", "password": PASSWORD}).json()
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        wider = c.post("/auth/token", data={**form, "scope": "users:me users:admin"})
        assert wider.status_code == 400, wider.text
        assert wider.json()["error"] == "invalid_scope"
        assert c.post("/auth/token", data=form).status_code == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "password", "username": "x"}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)
def test_token_endpoint_errors_follow_rfc_6749(service, form: dict, error: str) -> None:
    with service.client() as c:
        r = c.post("/auth/token", data=form)
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == error
    assert body["error_description"] == body["message"]


def test_a_malformed_token_request_is_invalid_request_naming_the_field_not_the_value(
    service,
) -> None:
    canary = "canary-" + "p" * 5000  # longer than any password may be
    with service.client() as c:
        r = c.post(
            "/auth/token", data={"grant_type": "password", "username": "u", "password": canary}
        )
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["error"] == "invalid_request"
        assert body["error_description"].startswith("the request is not valid: password:")
        assert "canary" not in r.text
        # JSON is not what RFC 6749 §3.2 says the token endpoint takes.
        as_json = c.post(
            "/auth/token", json={"grant_type": "password", "username": "u", "password": "p"}
        )
        assert as_json.status_code == 400
        assert as_json.json()["error"] == "invalid_request"
        assert "x-www-form-urlencoded" in as_json.json()["error_description"]


def test_an_oauth2_client_library_logs_in_and_refreshes(service) -> None:
    require_module("authlib")
    require_module("requests")
    from authlib.integrations.requests_client import OAuth2Session

    with service.client() as c:
        register(c, "library")
    url = f"{service.url}/auth/token"
    with OAuth2Session(client_id="sealbox-first-party", scope="users:me") as session:
        ca = str(service.ca)
        token = session.fetch_token(url, username="library", password=PASSWORD, verify=ca)
        assert token["token_type"] == "bearer"
        old_refresh = token["refresh_token"]
        refreshed = session.refresh_token(url, refresh_token=old_refresh, verify=ca)
        assert refreshed["refresh_token"] != old_refresh
        assert refreshed["scope"] == "users:me"
        me = session.get(f"{service.url}/users/me", verify=ca)
        assert me.status_code == 200 and me.json()["username"] == "library"
