"""Who may introspect what (RFC 7662 §4), over real HTTPS: a client introspects the tokens
issued to it; one holding ``tokens:introspect`` introspects any token; any other token
answers exactly ``{"active": false}``, live or not, as an unknown token does, and the
refusal is audited without the token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.service._oauth import AuthServer, Registered, access_token, auth_server
from tests.service.conftest import PASSWORD, register

INACTIVE = {"active": False}
FIRST_PARTY = "sealbox-first-party"


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """One server for the module: each test uses names of its own."""
    with auth_server(tmp_path_factory.mktemp("introspect-scope")) as server:
        yield server


def _introspect(authz: AuthServer, client: Registered, token: str) -> httpx2.Response:
    with authz.client() as c:
        return c.post("/auth/introspect", data={"token": token}, headers=client.basic)


def _answer(authz: AuthServer, client: Registered, token: str) -> dict[str, Any]:
    answer = _introspect(authz, client, token)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _login(authz: AuthServer, name: str, client: Registered | None = None) -> dict[str, Any]:
    """A password login's tokens, made through ``client`` (``None``: the first-party one)."""
    form = {"grant_type": "password", "username": name, "password": PASSWORD}
    with authz.client() as c:
        register(c, name)
        answer = c.post("/auth/token", data=form, headers=client.basic if client else None)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _revoke(authz: AuthServer, client: Registered, token: str) -> None:
    with authz.client() as c:
        answer = c.post("/auth/revoke", data={"token": token}, headers=client.basic)
    assert answer.status_code == 200, answer.text


def test_another_clients_token_introspects_as_exactly_inactive_live_or_revoked(
    authz: AuthServer,
) -> None:
    owner = authz.register("owner-a", "users:me")
    other = authz.register("other-a", "users:me")
    token = access_token(authz, owner)
    assert _answer(authz, owner, token)["active"] is True
    assert _answer(authz, other, token) == INACTIVE
    _revoke(authz, owner, token)
    assert _answer(authz, other, token) == INACTIVE


def test_a_first_party_logins_tokens_introspect_as_inactive_to_a_client_without_the_scope(
    authz: AuthServer,
) -> None:
    rs = authz.register("rs-b", "users:me", "tokens:revoke")
    tokens = _login(authz, "bella")
    assert _answer(authz, rs, tokens["access_token"]) == INACTIVE
    assert _answer(authz, rs, tokens["refresh_token"]) == INACTIVE


def test_a_client_holding_tokens_introspect_gets_the_full_answer_for_any_token(
    authz: AuthServer,
) -> None:
    rs = authz.register("rs-c", "tokens:introspect")
    owner = authz.register("owner-c", "users:me")
    client_token = access_token(authz, owner)
    tokens = _login(authz, "carla")
    of_client = _answer(authz, rs, client_token)
    assert of_client["active"] is True
    assert of_client["client_id"] == owner.client_id
    assert of_client["scope"] == "users:me"
    access = _answer(authz, rs, tokens["access_token"])
    assert access["active"] is True
    assert access["username"] == "carla"
    assert access["client_id"] == FIRST_PARTY
    refresh = _answer(authz, rs, tokens["refresh_token"])
    assert refresh["active"] is True
    assert refresh["token_type"] == "refresh_token"
    assert refresh["username"] == "carla"
    assert refresh["client_id"] == FIRST_PARTY


def test_a_client_introspects_its_own_client_credentials_token_in_full(
    authz: AuthServer,
) -> None:
    client = authz.register("self-d", "users:me")
    answer = _answer(authz, client, access_token(authz, client))
    assert answer["active"] is True
    assert answer["client_id"] == answer["sub"] == client.client_id
    assert answer["scope"] == "users:me"


def test_a_client_introspects_the_password_login_tokens_it_authenticated_and_no_other_may(
    authz: AuthServer,
) -> None:
    app = authz.register("app-e", "users:me")
    other = authz.register("other-e", "users:me")
    tokens = _login(authz, "erin", app)
    access = _answer(authz, app, tokens["access_token"])
    assert access["active"] is True
    assert access["client_id"] == app.client_id
    assert access["username"] == "erin"
    refresh = _answer(authz, app, tokens["refresh_token"])
    assert refresh["active"] is True
    assert refresh["client_id"] == app.client_id
    assert _answer(authz, other, tokens["access_token"]) == INACTIVE
    assert _answer(authz, other, tokens["refresh_token"]) == INACTIVE


def test_a_refused_introspection_answers_as_an_unknown_token_does(authz: AuthServer) -> None:
    owner = authz.register("owner-f", "users:me")
    other = authz.register("other-f", "users:me")
    refused = _introspect(authz, other, access_token(authz, owner))
    unknown = _introspect(authz, other, "not a token")
    assert refused.status_code == unknown.status_code == 200
    assert refused.content == unknown.content
    assert sorted(h for h in refused.headers.multi_items() if h[0] != "date") == sorted(
        h for h in unknown.headers.multi_items() if h[0] != "date"
    )


def test_tokens_introspect_granted_or_taken_back_on_the_command_line_counts_at_once(
    authz: AuthServer, cli
) -> None:
    rs = authz.register("rs-g", "users:me")
    tokens = _login(authz, "gwen")
    assert _answer(authz, rs, tokens["access_token"]) == INACTIVE
    data = authz.svc.settings.data_dir
    given = cli(["clients", "grant", "rs-g", "tokens:introspect", "--data-dir", data])
    assert given.code == 0, given.stderr
    assert _answer(authz, rs, tokens["access_token"])["username"] == "gwen"
    assert _answer(authz, rs, tokens["refresh_token"])["username"] == "gwen"
    taken = cli(["clients", "revoke", "rs-g", "tokens:introspect", "--data-dir", data])
    assert taken.code == 0, taken.stderr
    assert _answer(authz, rs, tokens["access_token"]) == INACTIVE
    assert _answer(authz, rs, tokens["refresh_token"]) == INACTIVE


def test_a_refused_introspection_is_audited_without_the_token(authz: AuthServer) -> None:
    owner = authz.register("owner-h", "users:me")
    prober = authz.register("prober-h", "users:me")
    token = access_token(authz, owner)
    refresh = _login(authz, "hana")["refresh_token"]
    assert _answer(authz, prober, token) == INACTIVE
    assert _answer(authz, prober, refresh) == INACTIVE
    audit = authz.svc.audit()
    refusals = [
        line
        for line in audit.splitlines()
        if '"event": "introspect"' in line and f'"user": "{prober.client_id}"' in line
    ]
    assert len(refusals) == 2
    assert all('"outcome": "refused"' in line for line in refusals)
    assert token not in audit
    assert refresh not in audit


def test_the_public_first_party_client_may_not_introspect(authz: AuthServer) -> None:
    tokens = _login(authz, "iris")
    with authz.client() as c:
        named = c.post(
            "/auth/introspect", data={"token": tokens["access_token"], "client_id": FIRST_PARTY}
        )
        basic = c.post(
            "/auth/introspect", data={"token": tokens["access_token"]}, auth=(FIRST_PARTY, "")
        )
    for answer in (named, basic):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_client"


def test_metadata_lists_tokens_introspect_and_no_public_introspection(
    authz: AuthServer,
) -> None:
    with authz.client() as c:
        meta = c.get("/.well-known/oauth-authorization-server").json()
    assert "tokens:introspect" in meta["scopes_supported"]
    assert "tokens:revoke" in meta["scopes_supported"]
    assert "none" not in meta["introspection_endpoint_auth_methods_supported"]
