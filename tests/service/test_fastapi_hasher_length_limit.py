"""The auth routes of an app whose Accounts hash with a shorter password limit than the
default (``PasswordHasher(max_length=64)``): the new-password policy measures with that
hasher's limit, so a longer password is a 422 ``weak_password`` naming it on
/auth/register and /auth/password, never a 500 from the hasher after the policy let it
through. Served by plain uvicorn over real TLS on 127.0.0.1, on the app's own SQLite."""

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.service._own_app import served_over_tls
from tests.service._short_limit_app import FITS, LIMIT, TOO_LONG, short_limit_app
from tests.service.conftest import bearer


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx2.Client]:
    with served_over_tls(short_limit_app(tmp_path / "app.db"), tmp_path) as c:
        yield c


def _register(c: httpx2.Client, name: str, password: str) -> httpx2.Response:
    return c.post("/auth/register", json={"username": name, "password": password})


def _token(c: httpx2.Client, name: str, password: str) -> httpx2.Response:
    return c.post("/auth/token", data={"username": name, "password": password})


def test_registering_a_password_over_the_hashers_limit_is_a_weak_password_naming_it(
    client: httpx2.Client,
) -> None:
    r = _register(client, "amara", TOO_LONG)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "weak_password"
    assert f"8 to {LIMIT} characters" in r.json()["message"]
    # At the limit it is taken, and logs in.
    assert _register(client, "amara", FITS).status_code == 201
    assert _token(client, "amara", FITS).status_code == 200


def test_changing_to_a_password_over_the_hashers_limit_is_a_weak_password_and_changes_nothing(
    client: httpx2.Client,
) -> None:
    assert _register(client, "bruno", FITS).status_code == 201
    token = _token(client, "bruno", FITS).json()["access_token"]
    body = {"current_password": FITS, "new_password": TOO_LONG}
    r = client.post("/auth/password", json=body, headers=bearer(token))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "weak_password"
    assert f"8 to {LIMIT} characters" in r.json()["message"]
    assert _token(client, "bruno", FITS).status_code == 200
