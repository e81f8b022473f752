"""The bearer over an app's own accounts, when their Redis stops answering, answers 503
``store_unavailable`` with ``Retry-After`` in an app without sealbox's error handlers as
in one with them: never a 500. Plain uvicorn over real TLS on 127.0.0.1, real Redis
reached through a forwarder the test cuts."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI

from sealbox.accounts import (
    AccessClaims,
    AccountPolicy,
    Accounts,
    make_engine,
    migrate,
)
from sealbox.accounts.registration import register
from sealbox.accounts.sessions import login
from sealbox.integrations.fastapi import BearerAuth, install_error_handlers
from sealbox.jwt import SigningKeySet
from tests._tcp_proxy import Proxy
from tests.service._own_app import served_over_tls
from tests.service.conftest import PASSWORD, bearer


def own_app(database: Path, redis_url: str, prefix: str, *, handlers: bool) -> FastAPI:
    auth = BearerAuth(lambda request: request.app.state.accounts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        await migrate(engine)
        accounts = await Accounts.open(
            engine,
            SigningKeySet.generate("EdDSA"),
            AccountPolicy(),
            password_profile="test",
            redis_url=redis_url,
            redis_prefix=prefix,
        )
        await register(accounts, "alice", PASSWORD, "127.0.0.1")
        app.state.token = (await login(accounts, "alice", PASSWORD, "127.0.0.1", [])).access_token
        app.state.accounts = accounts
        yield
        await accounts.close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    if handlers:
        install_error_handlers(app)

    @app.get("/me")
    async def me(caller: Annotated[AccessClaims, Depends(auth)]) -> dict[str, str]:
        return {"user": caller.username}

    @app.get("/orders")
    async def orders(caller: Annotated[AccessClaims, auth.require()]) -> dict[str, str]:
        return {"user": caller.username}

    @app.get("/token")
    async def token() -> dict[str, str]:
        return {"token": app.state.token}

    return app


@pytest.mark.parametrize("handlers", [False, True], ids=["plain-fastapi", "sealbox-handlers"])
def test_a_bearer_whose_accounts_redis_is_gone_answers_503_not_500(
    tmp_path: Path, redis_proxy: tuple[Proxy, str], handlers: bool
) -> None:
    proxy, prefix = redis_proxy
    redis_url = f"redis://127.0.0.1:{proxy.port}/15"
    app = own_app(tmp_path / "accounts.db", redis_url, prefix, handlers=handlers)
    with served_over_tls(app, tmp_path) as c:
        token = c.get("/token").json()["token"]
        assert c.get("/me", headers=bearer(token)).json() == {"user": "alice"}
        proxy.cut()
        try:
            answers = [c.get(path, headers=bearer(token)) for path in ("/me", "/orders")]
        finally:
            proxy.restore()
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "5"
            assert token not in answer.text
            assert str(proxy.port) not in answer.text
            said = answer.json()
            if handlers:
                assert said["error"] == "store_unavailable"
            assert "Redis did not answer" in (said["message"] if handlers else said["detail"])
        # Served again once Redis answers.
        assert c.get("/orders", headers=bearer(token)).json() == {"user": "alice"}
