"""An app of one's own with sealbox's routers and no middleware answers a body that is not
JSON on the auth router's JSON routes as ``sealbox serve`` does: 415
``unsupported_media_type`` (FastAPI's own answer is a 422 about the body's shape), before
the body is read. The token endpoint keeps its form. Served by plain uvicorn over real TLS
on 127.0.0.1, on the app's own SQLite."""

# No `from __future__ import annotations`: the app's routes are closures FastAPI reads.

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.service._own_app import routers_app, served_over_tls
from tests.service.conftest import PASSWORD, bearer

SECRET = "canary-7f3a9e-password"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx2.Client]:
    with served_over_tls(routers_app(tmp_path / "app.db")[0], tmp_path) as c:
        yield c


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_on_the_routers_json_routes_is_415_with_a_code(
    client: httpx2.Client, content_type: str | None
) -> None:
    registered = client.post("/auth/register", json={"username": "ann", "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    tokens = client.post("/auth/token", data={"username": "ann", "password": PASSWORD}).json()
    body = f'{{"username": "x", "password": "{SECRET}", "refresh_token": "{SECRET}"}}'.encode()
    for path in ("/auth/register", "/auth/refresh", "/auth/logout", "/auth/password"):
        headers = bearer(tokens["access_token"])
        if content_type is not None:
            headers["Content-Type"] = content_type
        r = client.post(path, content=body, headers=headers)
        assert r.status_code == 415, (path, content_type, r.status_code, r.text)
        assert r.json() == {
            "error": "unsupported_media_type",
            "message": "this endpoint takes application/json",
        }
        assert SECRET not in r.text
    # Nothing was acted on: the session still refreshes.
    refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


def test_json_types_pass_and_the_token_endpoint_keeps_its_form(client: httpx2.Client) -> None:
    for i, content_type in enumerate(("application/json; charset=utf-8", "Application/JSON")):
        r = client.post(
            "/auth/register",
            content=f'{{"username": "bo{i}", "password": "{PASSWORD}"}}'.encode(),
            headers={"Content-Type": content_type},
        )
        assert r.status_code == 201, (content_type, r.text)
    tokens = client.post("/auth/token", data={"username": "bo0", "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    r = client.post("/auth/token", content=b"{}", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
