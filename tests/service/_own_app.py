"""An app of one's own (built on sealbox.integrations.fastapi) served by plain uvicorn over
real TLS on 127.0.0.1, and clients that trust its certificate."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path

import httpx2
import uvicorn
from fastapi import FastAPI

from sealbox.accounts import AccountPolicy
from sealbox.integrations.fastapi import BearerAuth
from tests._uvicorn import uvicorn_in_thread
from tests.service.conftest import free_port
from tests.unit.test_jwt_remote import make_tls

__all__ = [
    "Served",
    "accounts_lifespan",
    "auth_app",
    "routers_app",
    "serve",
    "serve_in",
    "served_over_tls",
]


class Served:
    """A served app: its port, and the CA its certificate chains to."""

    def __init__(self, port: int, ca: Path) -> None:
        self.port = port
        self.ca = ca

    def client(self) -> httpx2.Client:
        return httpx2.Client(
            verify=ssl.create_default_context(cafile=str(self.ca)),
            base_url=f"https://127.0.0.1:{self.port}",
            timeout=20,
        )


def serve(app: FastAPI, ca: Path, chain: Path) -> Iterator[Served]:
    """Serve ``app`` with the certificate and key in ``chain`` (a generator: a fixture
    ``yield from``-s it)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ssl_keyfile=str(chain),
        ssl_certfile=str(chain),
        log_level="critical",
    )
    with uvicorn_in_thread(config, "the test app"):
        yield Served(port, ca)


def serve_in(app: FastAPI, folder: Path) -> Iterator[Served]:
    """:func:`serve`, with a CA and a certificate made in ``folder``."""
    _context, ca = make_tls(folder)
    yield from serve(app, ca, folder / "server.pem")


@contextmanager
def served_over_tls(app: FastAPI, folder: Path) -> Iterator[httpx2.Client]:
    """Serve ``app`` (certificate and CA made in ``folder``) for the block, with a client."""
    with contextmanager(serve_in)(app, folder) as served, served.client() as c:
        yield c


def accounts_lifespan(
    database_url: str,
    *,
    policy: AccountPolicy | None = None,
    redis_url: str | None = None,
    redis_prefix: str = "sealbox:",
    users: Sequence[str] = (),
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan of an app of one's own: ``Accounts`` over ``database_url`` (migrated at
    start-up; a fresh EdDSA keyset, the cheap password profile, Redis when given) in
    ``app.state.accounts``, each of ``users`` registered with the tests' password."""
    from contextlib import asynccontextmanager

    from sealbox.accounts import Accounts, make_engine, migrate
    from sealbox.accounts.registration import register
    from sealbox.jwt import SigningKeySet
    from tests.service.conftest import PASSWORD

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(database_url)
        await migrate(engine)
        accounts = await Accounts.open(
            engine,
            SigningKeySet.generate("EdDSA"),
            policy or AccountPolicy(),
            password_profile="test",
            redis_url=redis_url,
            redis_prefix=redis_prefix,
        )
        for name in users:
            await register(accounts, name, PASSWORD, "127.0.0.1")
        app.state.accounts = accounts
        yield
        await accounts.close()
        await engine.dispose()

    return lifespan


def auth_app(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]], *, handlers: bool
) -> FastAPI:
    """An app with sealbox's auth router alone over the accounts of ``lifespan``
    (:func:`accounts_lifespan`), with or without sealbox's error handlers."""
    from sealbox.integrations.fastapi import auth_router, install_error_handlers

    app = FastAPI(lifespan=lifespan)
    if handlers:
        install_error_handlers(app)
    app.include_router(auth_router(lambda request: request.app.state.accounts))
    return app


def routers_app(database: Path, policy: AccountPolicy | None = None) -> tuple[FastAPI, BearerAuth]:
    """An app of one's own with sealbox's auth, users and JWKS routers over ``database``
    (SQLite, made at start-up), error handlers and no middleware; and its bearer
    dependency, for routes a test adds."""
    from sealbox.integrations.fastapi import (
        auth_router,
        install_error_handlers,
        jwks_router,
        users_router,
    )

    auth = BearerAuth(lambda request: request.app.state.accounts)
    lifespan = accounts_lifespan(f"sqlite+aiosqlite:///{database}", policy=policy)
    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    source = lambda request: request.app.state.accounts  # noqa: E731 - one source, three routers
    app.include_router(auth_router(source, bearer=auth))
    app.include_router(users_router(source, bearer=auth))
    app.include_router(jwks_router(source))
    return app, auth
