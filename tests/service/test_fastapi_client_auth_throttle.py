"""sealbox.integrations.fastapi in an app of one's own: its token endpoint throttles failed
client authentication (the client credentials grant) per client address, with the
accounts' policy and throttle, as it throttles failed logins.

The app runs its own Accounts (3 failed attempts per address) on its own SQLite database,
served by uvicorn with sealbox's TLS connection layer over real sockets on 127.0.0.1."""

# No `from __future__ import annotations`: the test app's lifespan is a closure, as an
# app's own would be.

import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI

from sealbox.accounts import AccountPolicy, Accounts, make_engine, migrate
from sealbox.integrations.fastapi import auth_router, install_error_handlers
from sealbox.jwt import SigningKeySet
from sealbox.service.connection import connection_class
from sealbox.service.serve import prepare, uvicorn_options
from sealbox.tls.client import secure_client
from tests._uvicorn import uvicorn_in_thread
from tests.service.conftest import make_settings

LIMIT = 3


def own_app(database: Path, made: dict[str, str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        await migrate(engine)
        policy = AccountPolicy(throttle_client_attempts=LIMIT, throttle_user_attempts=1000)
        accounts = await Accounts.open(
            engine, SigningKeySet.generate("EdDSA"), policy, password_profile="test"
        )
        assert accounts.clients is not None
        client = await accounts.clients.create("reporting", ["reports:read"])
        assert client.secret is not None
        made.update(client_id=client.client.client_id, secret=client.secret.expose_secret())
        app.state.accounts = accounts
        yield
        await accounts.close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(auth_router(lambda request: request.app.state.accounts))
    return app


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx2.Client, dict[str, str]]]:
    data = tmp_path / "data"
    settings = make_settings(data)  # the service's data folder for its TLS material only
    prepare(settings)
    made: dict[str, str] = {}
    config = uvicorn.Config(
        own_app(tmp_path / "app.db", made),
        http=connection_class(settings),
        **uvicorn_options(settings, log_level="warning"),
    )
    with (
        uvicorn_in_thread(config, "the app"),
        secure_client(
            ca=data / "tls" / "ca.crt", base_url=f"https://localhost:{settings.port}", timeout=20
        ) as c,
    ):
        yield c, made


def _token(c: httpx2.Client, client_id: str, secret: str) -> httpx2.Response:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return c.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {raw}"},
    )


def test_the_apps_token_endpoint_throttles_wrong_client_secrets_per_address(served) -> None:
    c, made = served
    for _ in range(2 * LIMIT):  # right secrets give their count back
        assert _token(c, made["client_id"], made["secret"]).status_code == 200
    for _ in range(LIMIT):
        assert _token(c, made["client_id"], "sbs_wrong").status_code == 401
    throttled = _token(c, made["client_id"], made["secret"])
    assert throttled.status_code == 429, throttled.text
    said = "too many attempts; try again later"
    assert throttled.json() == {
        "error": "too_many_requests",
        "message": said,
        "error_description": said,
    }
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.headers["Cache-Control"] == "no-store"
