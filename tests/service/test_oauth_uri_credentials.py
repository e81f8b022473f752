"""A credential in the URI of a token, revocation or introspection request is refused, not
ignored (RFC 6749 §2.3.1: client credentials "MUST NOT be included in the request URI"):
ignored, the request went on as if it had not been sent, authenticated some other way or
as the public client, and the client never learnt that its secret travels in URLs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.service._oauth import AuthServer, access_token, auth_server
from tests.service.conftest import PASSWORD, register


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("uri")) as server:
        yield server


def _refused(answer, *names: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert all(name in body["error_description"] for name in names), body
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"


@pytest.mark.parametrize("path", ["/auth/token", "/auth/revoke", "/auth/introspect"])
def test_a_client_secret_in_the_query_is_refused_even_beside_good_basic_credentials(
    authz: AuthServer, path: str
) -> None:
    client = authz.register(f"uri-{path.rsplit('/', 1)[1]}", "users:me")
    assert client.secret is not None
    form = {"grant_type": "client_credentials"} if path == "/auth/token" else {"token": "x"}
    with authz.client() as c:
        answer = c.post(
            path, params={"client_secret": client.secret}, data=form, headers=client.basic
        )
    _refused(answer, "client_secret")
    assert client.secret not in answer.text


def test_a_client_secret_in_the_query_is_invalid_request_not_invalid_client(
    authz: AuthServer,
) -> None:
    client = authz.register("uri-alone", "users:me")
    assert client.secret is not None
    with authz.client() as c:
        answer = c.post(
            "/auth/token",
            params={"client_id": client.client_id, "client_secret": client.secret},
            data={"grant_type": "client_credentials"},
        )
    _refused(answer, "client_secret")
    assert "www-authenticate" not in answer.headers


def test_a_password_or_refresh_token_in_the_query_is_refused_and_signs_nobody_in(
    authz: AuthServer,
) -> None:
    with authz.client() as c:
        register(c, "uri-alice")
        sent = {"grant_type": "password", "username": "uri-alice", "password": PASSWORD}
        answer = c.post("/auth/token", params={"password": PASSWORD}, data=sent)
        _refused(answer, "password")
        refresh = c.post("/auth/token", data=sent).json()["refresh_token"]
        answer = c.post(
            "/auth/token",
            params={"refresh_token": refresh},
            data={"grant_type": "refresh_token", "refresh_token": refresh},
        )
        _refused(answer, "refresh_token")
        # The refusal came before the grant: the refresh token was not used up.
        kept = c.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert kept.status_code == 200, kept.text


def test_a_token_in_the_query_of_a_revocation_revokes_nothing(authz: AuthServer) -> None:
    client = authz.register("uri-revoker", "users:me")
    token = access_token(authz, client)
    with authz.client() as c:
        answer = c.post(
            "/auth/revoke", params={"token": token}, data={"token": token}, headers=client.basic
        )
        _refused(answer, "token")
        still = c.post("/auth/introspect", data={"token": token}, headers=client.basic)
    assert still.json()["active"] is True


def test_a_percent_encoded_parameter_name_in_the_query_is_refused_as_well(
    authz: AuthServer,
) -> None:
    client = authz.register("uri-encoded", "users:me")
    with authz.client() as c:
        answer = c.post(
            "/auth/token?client%5Fsecret=x",
            data={"grant_type": "client_credentials"},
            headers=client.basic,
        )
    _refused(answer, "client_secret")


def test_a_query_without_credentials_is_still_served(authz: AuthServer) -> None:
    # RFC 6749 §3.2: the token endpoint's URI may carry a query component of its own.
    client = authz.register("uri-plain", "users:me")
    with authz.client() as c:
        answer = c.post(
            "/auth/token",
            params={"tenant": "eu", "client_id": client.client_id},
            data={"grant_type": "client_credentials"},
            headers=client.basic,
        )
    assert answer.status_code == 200, answer.text
