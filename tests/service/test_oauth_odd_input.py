"""The authorization server given input no database column holds, scopes no challenge can
quote, and a public client's id in a Basic header with an empty password, over real HTTPS
on SQLite and on PostgreSQL with Redis: each is answered with its documented refusal (or
taken), never a 500 or a dropped connection."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from sealbox.service.admin import create_user
from tests.service._oauth import AuthServer, auth_server_on
from tests.service.conftest import PASSWORD, bearer, login, register

FORM = "application/x-www-form-urlencoded"
FIRST_PARTY = "sealbox-first-party"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def authz(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """One server per backend for the module: each test uses names of its own."""
    with auth_server_on(
        request.param, tmp_path_factory.mktemp("oauth-odd-input"), "odd_input"
    ) as server:
        yield server


def _basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _admin(authz: AuthServer, name: str) -> dict[str, str]:
    create_user(authz.svc.settings, name, lambda _name: PASSWORD, scopes=["clients:admin"])
    with authz.client() as c:
        return bearer(login(c, name).json()["access_token"])


@pytest.mark.parametrize("path", ["/auth/token", "/auth/revoke", "/auth/introspect"])
@pytest.mark.parametrize("where", ["basic", "form"])
def test_a_nul_in_a_client_id_is_invalid_client_not_a_500(
    authz: AuthServer, path: str, where: str
) -> None:
    # PostgreSQL's text holds no NUL: a client id with one names no client (RFC 6749 §5.2
    # invalid_client), as any other unknown id does, on every backend alike.
    form = "grant_type=client_credentials&token=abc"
    headers = {"content-type": FORM}
    if where == "basic":
        headers.update(_basic(b"sbc_a%00b:sbs_canary-secret"))
    else:
        form += "&client_id=sbc_a%00b&client_secret=sbs_canary-secret"
    with authz.client() as c:
        answer = c.post(path, content=form.encode(), headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic ")
    assert answer.headers["cache-control"] == "no-store"


def test_a_nul_in_a_certificate_clients_id_is_invalid_client_not_a_500(
    authz: AuthServer,
) -> None:
    body = b"grant_type=client_credentials&client_id=sbc_a%00b"
    with authz.client(cert=authz.cert_a) as c:
        answer = c.post("/auth/token", content=body, headers={"content-type": FORM})
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client"


def test_a_nul_in_a_password_grant_username_is_invalid_grant_not_a_500(
    authz: AuthServer,
) -> None:
    with authz.client() as c:
        register(c, "nul-user")
        answer = c.post(
            "/auth/token",
            content=f"grant_type=password&username=nul-user%00&password={PASSWORD}".encode(),
            headers={"content-type": FORM},
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_grant"
    assert PASSWORD not in answer.text


def test_a_nul_in_a_client_name_or_subject_is_404_or_422_not_a_500(authz: AuthServer) -> None:
    h = _admin(authz, "nul-admin")
    with authz.client() as c:
        deleted = c.delete("/clients/a%00b", headers=h)
        rotated = c.post("/clients/a%00b/rotate-secret", headers=h)
        made = c.post(
            "/clients",
            json={
                "name": "nul-subject",
                "tls_client_auth_subject_dn": "CN=a\x00b",
                "secret": False,
            },
            headers=h,
        )
        listed = c.get("/clients", headers=h).json()["clients"]
    assert deleted.status_code == 404, deleted.text
    assert deleted.json()["error"] == "client_not_found"
    assert rotated.status_code == 404, rotated.text
    assert made.status_code == 422, made.text
    assert made.json()["error"] == "validation_error"
    assert "nul-subject" not in [client["name"] for client in listed]


# Scopes outside RFC 6749 §3.3's scope-token grammar, by name.
ODD_SCOPES = {"nul": "a\x00b", "crlf": "line\r\nX-Injected: yes", "quote": 'quo"te'}


@pytest.mark.parametrize("name", sorted(ODD_SCOPES))
def test_a_new_clients_scope_that_is_no_scope_token_is_422_not_a_dropped_connection(
    authz: AuthServer, name: str
) -> None:
    # The caller does not hold it, and the 403's RFC 6750 challenge would quote it: a
    # scope outside RFC 6749 §3.3's grammar is refused as one first, and nothing is made.
    h = _admin(authz, f"scope-admin-{name}")
    body = {"name": "odd-scope", "scopes": [ODD_SCOPES[name]]}
    with authz.client() as c:
        made = c.post("/clients", json=body, headers=h)
        listed = c.get("/clients", headers=h).json()["clients"]
    assert made.status_code == 422, made.text
    assert made.json()["error"] == "validation_error"
    assert "x-injected" not in made.headers
    assert "odd-scope" not in [client["name"] for client in listed]


def test_the_first_party_client_revokes_with_its_id_in_basic_and_an_empty_password(
    authz: AuthServer,
) -> None:
    # What requests-oauthlib sends for a public client (HTTPBasicAuth(client_id, "")): the
    # token endpoint takes it as no client authentication, and so does revocation.
    with authz.client() as c:
        register(c, "basic-public")
        tokens = login(c, "basic-public").json()
        public = _basic(f"{FIRST_PARTY}:".encode())
        refreshed = c.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers=public,
        )
        assert refreshed.status_code == 200, refreshed.text
        revoked = c.post(
            "/auth/revoke", data={"token": refreshed.json()["refresh_token"]}, headers=public
        )
        again = c.post(
            "/auth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refreshed.json()["refresh_token"],
            },
        )
        other = authz.register("basic-public-other", "users:me")
        named_other = c.post(
            "/auth/revoke",
            data={"token": "abc", "client_id": other.client_id},
            headers=public,
        )
    assert revoked.status_code == 200, revoked.text
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # A form naming another client than the header's is still two clients at once.
    assert named_other.status_code == 400, named_other.text
    assert named_other.json()["error"] == "invalid_request"


def test_a_registered_clients_id_with_an_empty_basic_password_is_still_invalid_client(
    authz: AuthServer,
) -> None:
    client = authz.register("empty-password", "users:me")
    with authz.client() as c:
        answer = c.post(
            "/auth/revoke", data={"token": "abc"}, headers=_basic(f"{client.client_id}:".encode())
        )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client"
