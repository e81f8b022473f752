"""Request content types at the service's edge: sealbox's own JSON routes refuse a body that
is not JSON with 415 ``unsupported_media_type``; the forms and Vault's paths keep theirs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.service._transit import add_user
from tests.service.conftest import Running, bearer, login, make_settings, run_service

SECRET = "canary-415-body-7c1d"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One service for the module (a content type is judged before any state is read)."""
    data = tmp_path_factory.mktemp("content-types") / "data"
    with run_service(make_settings(data)) as running:
        yield running


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    add_user(
        service.settings,
        "ct-admin",
        ["users:admin", "clients:admin", "transit:admin", "transit:encrypt:*"],
    )
    with service.client() as c:
        access = str(login(c, "ct-admin").json()["access_token"])
        created = c.post("/v1/keys/ct-key", json={}, headers=bearer(access))
        assert created.status_code in (200, 201, 204), created.text
        return access


def _json_routes(token: str) -> list[tuple[str, dict[str, str]]]:
    auth = bearer(token)
    return [
        ("/auth/register", {}),
        ("/auth/refresh", {}),
        ("/auth/logout", auth),
        ("/auth/password", auth),
        ("/auth/totp", auth),
        ("/users/import", auth),
        ("/users/ct-admin/scopes", auth),
        ("/clients", auth),
        ("/v1/keys/ct-key/encrypt", auth),
        ("/v1/keys/ct-key/decrypt", auth),
        ("/v1/keys/other", auth),
    ]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_on_a_json_route_is_415_with_a_code(
    service: Running, token: str, content_type: str | None
) -> None:
    body = f'{{"username": "x", "password": "{SECRET}", "plaintext": "AA=="}}'.encode()
    with service.client() as c:
        for path, headers in _json_routes(token):
            sent = dict(headers)
            if content_type is not None:
                sent["Content-Type"] = content_type
            r = c.post(path, content=body, headers=sent)
            assert r.status_code == 415, (path, content_type, r.status_code, r.text)
            assert r.headers["content-type"] == "application/json"
            assert r.json() == {
                "error": "unsupported_media_type",
                "message": "this endpoint takes application/json",
            }
            assert SECRET not in r.text
            # The service's headers, as on every answer.
            assert r.headers["cache-control"] == "no-store"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["strict-transport-security"].startswith("max-age=63072000")


def test_json_media_types_and_empty_bodies_pass_to_the_routes(service: Running, token: str) -> None:
    with service.client() as c:
        for content_type in (
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ):
            r = c.post(
                "/v1/keys/ct-key/encrypt",
                content=b'{"plaintext": "AA=="}',
                headers={**bearer(token), "Content-Type": content_type},
            )
            assert r.status_code == 200, (content_type, r.text)
        # No body at all: nothing to judge, whatever the type says.
        r = c.post(
            "/users/ct-admin/enable",
            headers={**bearer(token), "Content-Type": "text/plain", "Content-Length": "0"},
        )
        assert r.status_code == 200, r.text


def test_the_forms_and_vaults_paths_keep_their_content_types(service: Running) -> None:
    with service.client() as c:
        # The token endpoint takes a form, and answers its own RFC 6749 error otherwise.
        r = c.post("/auth/token", data={"grant_type": "password", "username": "n", "password": "p"})
        assert r.status_code in (400, 401) and r.json()["error"] != "unsupported_media_type"
        r = c.post("/auth/token", content=b"{}", headers={"Content-Type": "application/json"})
        assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
        for path in ("/auth/revoke", "/auth/introspect"):
            r = c.post(path, data={"token": "x"})
            assert r.json().get("error") != "unsupported_media_type", (path, r.text)
        # Vault's server reads a body whatever its type (curl -d sends a form type).
        r = c.post(
            "/v1/transit/encrypt/k",
            content=b'{"plaintext": "AA=="}',
            headers={"X-Vault-Token": "nope", "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}


def test_a_route_that_is_not_there_is_still_404_whatever_the_body(service: Running) -> None:
    with service.client() as c:
        r = c.post("/nowhere", content=b"x", headers={"Content-Type": "text/plain"})
        assert (r.status_code, r.json()["error"]) == (404, "not_found")
        r = c.post("/health", content=b"x", headers={"Content-Type": "text/plain"})
        assert (r.status_code, r.json()["error"]) == (405, "method_not_allowed")
