"""The authorization server as third-party clients meet it, over real HTTPS: parameters an
endpoint does not know (RFC 6749 §3.2, RFC 8707's repeatable ``resource``), and an OAuth 2
client library (Authlib) through client credentials, introspection and revocation."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest

from tests.conftest import require_module
from tests.service._oauth import AuthServer, access_token, auth_server

FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("oauth-rfc-edges")) as server:
        yield server


def test_a_repeated_parameter_an_endpoint_does_not_know_is_ignored(authz) -> None:
    # RFC 6749 §3.2: the server "MUST ignore unrecognized request parameters", and RFC 8707
    # §2 lets a client send "resource" more than once. sealbox reads neither, so no proxy
    # can act on one value while it acts on another: only its own parameters are refused
    # when repeated.
    client = authz.register("resources", "users:me")
    extra = "&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example&x=1&x=2"
    token = access_token(authz, client)
    headers = {"content-type": FORM, **client.basic}
    with authz.client() as c:
        issued = c.post(
            "/auth/token", content="grant_type=client_credentials" + extra, headers=headers
        )
        looked_up = c.post("/auth/introspect", content=f"token={token}" + extra, headers=headers)
        revoked = c.post("/auth/revoke", content=f"token={token}" + extra, headers=headers)
        after = c.post("/auth/introspect", content=f"token={token}", headers=headers)
        # Another endpoint's parameter is not this one's: grant_type twice at revocation.
        foreign = c.post(
            "/auth/revoke",
            content=f"token={token}&grant_type=a&grant_type=b",
            headers=headers,
        )
        twice = c.post(
            "/auth/token",
            content="grant_type=client_credentials&scope=users:me&scope=users:me" + extra,
            headers=headers,
        )
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == "users:me"
    assert looked_up.status_code == 200, looked_up.text
    assert looked_up.json()["active"] is True
    assert revoked.status_code == 200, revoked.text
    assert after.json() == {"active": False}
    assert foreign.status_code == 200, foreign.text
    # Its own parameters stay refused when repeated, naming only them.
    assert twice.status_code == 400
    assert twice.json()["error"] == "invalid_request"
    assert twice.json()["error_description"] == "scope given more than once"


def test_an_oauth2_client_library_gets_introspects_and_revokes_a_client_token(authz) -> None:
    require_module("authlib")
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

    client = authz.register("authlib-client", "users:me")
    reader = authz.register("authlib-reader", "users:me", "tokens:introspect")
    with authz.client() as c:
        meta = c.get("/.well-known/oauth-authorization-server").json()
    ca = ssl.create_default_context(cafile=str(authz.svc.ca))
    for method in ("client_secret_basic", "client_secret_post"):
        with (
            OAuth2Client(
                client.client_id,
                client.secret,
                token_endpoint_auth_method=method,
                revocation_endpoint_auth_method=method,
                verify=ca,
            ) as own,
            OAuth2Client(
                reader.client_id, reader.secret, token_endpoint_auth_method=method, verify=ca
            ) as resource_server,
            OAuth2Client(
                client.client_id, "not-the-secret", token_endpoint_auth_method=method, verify=ca
            ) as wrong,
        ):
            token = own.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
            assert token["token_type"] == "bearer" and token["scope"] == "users:me"
            assert "refresh_token" not in token
            live = resource_server.introspect_token(
                meta["introspection_endpoint"],
                token=token["access_token"],
                token_type_hint="access_token",
            )
            revoked = own.revoke_token(
                meta["revocation_endpoint"],
                token=token["access_token"],
                token_type_hint="access_token",
            )
            dead = resource_server.introspect_token(
                meta["introspection_endpoint"], token=token["access_token"]
            )
            with pytest.raises(OAuthError) as refused:
                wrong.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
        assert live.status_code == 200 and live.headers["cache-control"] == "no-store"
        assert live.json()["active"] is True
        assert live.json()["client_id"] == client.client_id
        assert revoked.status_code == 200 and revoked.headers["cache-control"] == "no-store"
        assert dead.json() == {"active": False}
        assert refused.value.error == "invalid_client"
