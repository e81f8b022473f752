"""An app of one's own (built on sealbox.integrations.fastapi) served by plain uvicorn over
real TLS on 127.0.0.1, and clients that trust its certificate."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import uvicorn
from fastapi import FastAPI

from sealbox.accounts import AccountPolicy
from sealbox.integrations.fastapi import BearerAuth
from tests._uvicorn import uvicorn_in_thread
from tests.service.conftest import free_port
from tests.unit.test_jwt_remote import make_tls

__all__ = ["Served", "serve", "serve_in", "served_over_tls"]


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


def routers_app(database: Path, policy: AccountPolicy | None = None) -> tuple[FastAPI, BearerAuth]:
    """An app of one's own with sealbox's auth, users and JWKS routers over ``database``
    (SQLite, made at start-up), error handlers and no middleware; and its bearer
    dependency, for routes a test adds."""
    from contextlib import asynccontextmanager

    from sealbox.accounts import Accounts, make_engine, migrate
    from sealbox.integrations.fastapi import (
        auth_router,
        install_error_handlers,
        jwks_router,
        users_router,
    )
    from sealbox.jwt import SigningKeySet

    auth = BearerAuth(lambda request: request.app.state.accounts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        await migrate(engine)
        app.state.accounts = await Accounts.open(
            engine,
            SigningKeySet.generate("EdDSA"),
            policy or AccountPolicy(),
            password_profile="test",
        )
        yield
        await app.state.accounts.close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    source = lambda request: request.app.state.accounts  # noqa: E731 - one source, three routers
    app.include_router(auth_router(source, bearer=auth))
    app.include_router(users_router(source, bearer=auth))
    app.include_router(jwks_router(source))
    return app, auth
