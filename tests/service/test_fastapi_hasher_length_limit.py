"""The auth routes of an app whose Accounts hash with a shorter password limit than the
default (``PasswordHasher(max_length=64)``): the new-password policy measures with that
hasher's limit, so a longer password is a 422 ``weak_password`` naming it on
/auth/register and /auth/password, never a 500 from the hasher after the policy let it
through. Served by plain uvicorn over real TLS on 127.0.0.1, on the app's own SQLite."""

# No `from __future__ import annotations`: the app's lifespan is a closure FastAPI runs.

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI, Request

from sealbox.accounts import AccountPolicy, Accounts, make_engine, migrate
from sealbox.accounts.database import sessionmaker
from sealbox.accounts.store import Store
from sealbox.integrations.fastapi import accounts_bearer, auth_router, install_error_handlers
from sealbox.jwt import SigningKeySet
from sealbox.passwords import PasswordHasher
from tests.service._own_app import served_over_tls
from tests.service.conftest import bearer

LIMIT = 64
FITS = "f" * LIMIT
TOO_LONG = "t" * (LIMIT + 36)  # under the default 1024, over this hasher's limit


def accounts_of(request: Request) -> Accounts:
    opened: Accounts = request.app.state.accounts
    return opened


def short_limit_app(database: Path) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        await migrate(engine)
        app.state.accounts = Accounts(
            Store(sessionmaker(engine), refresh_ttl=3600),
            SigningKeySet.generate("EdDSA"),
            AccountPolicy(),
            hasher=PasswordHasher("test", max_length=LIMIT),
        )
        yield
        await app.state.accounts.close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(auth_router(accounts_of, bearer=accounts_bearer(accounts_of)))
    return app


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
