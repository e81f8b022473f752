"""sealbox.integrations.fastapi under mutual TLS in an app of one's own: the app's token
endpoint binds the tokens it issues to the client certificate (RFC 8705 §3), and its bearer
dependency refuses a bound token presented with another certificate, or with none.

The app runs its own Accounts on its own SQLite database, served by uvicorn with sealbox's
TLS connection layer over real sockets on 127.0.0.1; client certificates are optional."""

# No `from __future__ import annotations`: the test app's routes are closures over their
# dependencies, and FastAPI reads their annotations.

import base64
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx2
import pytest
import uvicorn
from fastapi import Depends, FastAPI

from sealbox.accounts import AccountPolicy, Accounts, Caller, make_engine, migrate
from sealbox.accounts import sessions as account_sessions
from sealbox.integrations.fastapi import BearerAuth, auth_router, install_error_handlers
from sealbox.jwt import SigningKeySet
from sealbox.service.connection import connection_class
from sealbox.service.serve import prepare, uvicorn_options
from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.client import secure_client
from tests._uvicorn import uvicorn_in_thread
from tests.service.conftest import PASSWORD, bearer, make_settings


def own_app(database: Path) -> FastAPI:
    auth = BearerAuth(lambda request: request.app.state.accounts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        await migrate(engine)
        accounts = await Accounts.open(
            engine, SigningKeySet.generate("EdDSA"), AccountPolicy(), password_profile="test"
        )
        await account_sessions.register(accounts, "alice", PASSWORD, "127.0.0.1")
        app.state.accounts = accounts
        yield
        await accounts.close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(auth_router(lambda request: request.app.state.accounts))

    @app.get("/orders")
    async def orders(caller: Annotated[Caller, Depends(auth)]) -> dict[str, Any]:
        return {"user": caller.username}

    return app


@dataclass
class Served:
    port: int
    ca: Path
    cert_a: tuple[str, str]
    cert_b: tuple[str, str]

    def client(self, cert: tuple[str, str] | None = None) -> httpx2.Client:
        options: dict[str, Any] = {"cert": cert[0], "key": cert[1]} if cert is not None else {}
        return secure_client(
            ca=self.ca, base_url=f"https://localhost:{self.port}", timeout=20, **options
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("own-app")
    data = folder / "data"
    # The service's data folder only for its TLS material: a CA, a server certificate, and
    # the CA as the client CA (certificates optional).
    settings = make_settings(data, client_ca=data / "tls" / "ca.crt")
    prepare(settings)
    ca = CertificateAuthority.load(data / "tls")
    cert_a = ca.issue_client("worker-a").write(folder / "a")
    cert_b = ca.issue_client("worker-b").write(folder / "b")
    config = uvicorn.Config(
        own_app(folder / "app.db"),
        http=connection_class(settings),
        **uvicorn_options(settings, log_level="warning"),
    )
    with uvicorn_in_thread(config, "the app"):
        yield Served(
            settings.port,
            data / "tls" / "ca.crt",
            (str(cert_a[0]), str(cert_a[1])),
            (str(cert_b[0]), str(cert_b[1])),
        )


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _login(served: Served, cert: tuple[str, str] | None) -> dict[str, Any]:
    with served.client(cert) as c:
        answer = c.post(
            "/auth/token",
            data={"grant_type": "password", "username": "alice", "password": PASSWORD},
        )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_bearer_dependency_refuses_a_bound_token_presented_with_another_certificate(
    served: Served,
) -> None:
    token = _login(served, served.cert_a)["access_token"]
    assert "x5t#S256" in _claims(token)["cnf"]
    with served.client(served.cert_a) as c:
        same = c.get("/orders", headers=bearer(token))
    with served.client(served.cert_b) as c:
        other = c.get("/orders", headers=bearer(token))
    with served.client() as c:
        none = c.get("/orders", headers=bearer(token))
    assert same.status_code == 200
    assert same.json() == {"user": "alice"}
    for refused, said in (
        (other, "the access token is bound to another client certificate"),
        (none, "the access token is bound to a client certificate, and none was presented"),
    ):
        assert refused.status_code == 401
        assert refused.json() == {"error": "invalid_token", "message": said}
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_token_issued_without_a_certificate_is_unbound_and_passes_with_any(
    served: Served,
) -> None:
    token = _login(served, None)["access_token"]
    assert "cnf" not in _claims(token)
    with served.client(served.cert_b) as c:
        assert c.get("/orders", headers=bearer(token)).status_code == 200


def test_a_refresh_family_begun_with_a_certificate_is_refreshed_only_with_it(
    served: Served,
) -> None:
    refresh_token = _login(served, served.cert_a)["refresh_token"]
    with served.client(served.cert_b) as c:
        stolen = c.post("/auth/refresh", json={"refresh_token": refresh_token})
    with served.client(served.cert_a) as c:
        owner = c.post("/auth/refresh", json={"refresh_token": refresh_token})
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
    assert owner.status_code == 200, owner.text
    assert "x5t#S256" in _claims(owner.json()["access_token"])["cnf"]
