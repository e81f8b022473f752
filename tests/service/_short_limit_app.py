"""An app of one's own whose Accounts hash with a shorter password limit than the default
(``PasswordHasher(max_length=64)``): the integration's auth routes on its own SQLite."""

# No `from __future__ import annotations`: the app's lifespan is a closure FastAPI runs.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request

from sealbox.accounts import AccountPolicy, Accounts, make_engine, migrate
from sealbox.accounts.database import sessionmaker
from sealbox.accounts.store import Store
from sealbox.integrations.fastapi import accounts_bearer, auth_router, install_error_handlers
from sealbox.jwt import SigningKeySet
from sealbox.passwords import PasswordHasher

__all__ = ["FITS", "LIMIT", "TOO_LONG", "accounts_of", "short_limit_app"]

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
