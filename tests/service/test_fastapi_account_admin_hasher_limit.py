"""An app's own account administration (:class:`AccountAdmin` over the accounts' hasher,
``PasswordHasher(max_length=64)``) with the integration's new-password policy measured by
that hasher's limit: a reset to a longer password is a 422 ``weak_password`` naming 64 and
changes nothing, never a 500 from the hasher after the policy let it through. The
service's own policy for ``sealbox users`` takes the limit the same way. Served by plain
uvicorn over real TLS on 127.0.0.1, on the app's own SQLite."""

# No `from __future__ import annotations`: the admin route is a closure FastAPI runs.

import functools
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI, Request, Response

from sealbox.accounts.admin import AccountAdmin
from sealbox.exceptions import ConfigError
from sealbox.integrations.fastapi.router import check_new_password
from sealbox.service.admin import password_policy
from tests.service._own_app import served_over_tls
from tests.service._short_limit_app import (
    FITS,
    LIMIT,
    TOO_LONG,
    accounts_of,
    short_limit_app,
)


def admin_app(database: Path) -> FastAPI:
    app = short_limit_app(database)

    @app.post("/admin/users/{name}/password", status_code=204)
    async def reset_password(name: str, request: Request) -> Response:
        accounts = accounts_of(request)
        admin = AccountAdmin(
            accounts.store,
            accounts.revocations,
            accounts.hasher,
            access_token_ttl=900,
            password_policy=functools.partial(
                check_new_password, max_length=accounts.hasher.max_length
            ),
        )
        await admin.reset_password(name, (await request.json())["password"])
        return Response(status_code=204)

    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx2.Client]:
    with served_over_tls(admin_app(tmp_path / "app.db"), tmp_path) as c:
        yield c


def _token(c: httpx2.Client, name: str, password: str) -> httpx2.Response:
    return c.post("/auth/token", data={"username": name, "password": password})


def test_an_admin_reset_to_a_password_over_the_hashers_limit_is_a_weak_password(
    client: httpx2.Client,
) -> None:
    assert client.post("/auth/register", json={"username": "amara", "password": FITS}).is_success
    r = client.post("/admin/users/amara/password", json={"password": TOO_LONG})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "weak_password"
    assert f"8 to {LIMIT} characters" in r.json()["message"]
    assert _token(client, "amara", FITS).status_code == 200  # nothing changed
    # At the limit it is set.
    new = "n" * LIMIT
    assert client.post("/admin/users/amara/password", json={"password": new}).status_code == 204
    assert _token(client, "amara", new).status_code == 200


def test_the_services_password_policy_measures_with_the_limit_it_is_given() -> None:
    with pytest.raises(ConfigError) as info:
        password_policy(TOO_LONG, "amara", max_length=LIMIT)
    assert info.value.code == "weak_password"
    assert f"8 to {LIMIT} characters" in str(info.value)
    password_policy(TOO_LONG, "amara")  # the default hasher's 1024
