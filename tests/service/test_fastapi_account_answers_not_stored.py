"""An app of one's own with sealbox's routers and no middleware: the answers that carry a
token or account data are never stored (``Cache-Control: no-store``), as ``sealbox serve``'s
are — the token endpoint and ``refresh`` (RFC 6749 §5.1), ``register`` (the new account)
and ``users/me``. The JWKS keeps its public caching. Served by plain uvicorn over real TLS
on 127.0.0.1, on the app's own SQLite."""

# No `from __future__ import annotations`: the app's routes are closures FastAPI reads.

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.service._own_app import routers_app, served_over_tls
from tests.service.conftest import PASSWORD, bearer


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx2.Client]:
    with served_over_tls(routers_app(tmp_path / "app.db")[0], tmp_path) as c:
        yield c


def test_register_token_refresh_and_users_me_answers_are_never_stored(
    client: httpx2.Client,
) -> None:
    registered = client.post("/auth/register", json={"username": "ann", "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    assert registered.headers["cache-control"] == "no-store"
    tokens = client.post("/auth/token", data={"username": "ann", "password": PASSWORD})
    assert tokens.status_code == 200 and tokens.headers["cache-control"] == "no-store"
    refreshed = client.post("/auth/refresh", json={"refresh_token": tokens.json()["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.headers["cache-control"] == "no-store"
    me = client.get("/users/me", headers=bearer(refreshed.json()["access_token"]))
    assert me.status_code == 200 and me.headers["cache-control"] == "no-store"
    jwks = client.get("/.well-known/jwks.json")
    assert jwks.headers["cache-control"] == "public, max-age=300"
