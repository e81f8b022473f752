"""A FastAPI app whose bearer dependency checks tokens with an issuer's JWKS URL: the
issuer rotates its key while its JWKS endpoint is down. A token of the new key cannot be
checked then (503 ``keys_unavailable``, ``Retry-After``: when the next fetch may be
tried), rather than be called invalid (401: clients would drop a good token and sign in
again, at the worst moment); tokens of the key the cached set holds still pass; and while
the issuer answers, a made-up key id is an invalid token as before. The app is served by
uvicorn over real TLS on 127.0.0.1, the JWKS server is a real HTTPS server there; the
source's clock is injected."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI

from sealbox.accounts import AccessClaims
from sealbox.integrations.fastapi import BearerAuth, RemoteJWKS, install_error_handlers
from sealbox.jwt import SigningKeySet
from tests.service._own_app import Served, serve
from tests.service.conftest import bearer
from tests.unit.test_jwt_remote import Clock, JWKSServer, https_jwks_server, make_tls, url

ISSUER = "https://issuer.test"
AUDIENCE = "orders-api"
UNAVAILABLE = {
    "error": "keys_unavailable",
    "message": "the keys that verify access tokens cannot be fetched: try again later",
}


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    _context, ca = make_tls(tmp_path)
    return ca, tmp_path / "server.pem"


@pytest.fixture
def jwks_server(tls: tuple[Path, Path]) -> Iterator[JWKSServer]:
    with https_jwks_server(tls[1]) as srv:
        yield srv


@contextmanager
def app_of(source: RemoteJWKS, tls: tuple[Path, Path]) -> Iterator[Served]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await source.aclose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    auth = BearerAuth(source)

    @app.get("/me")
    async def me(claims: Annotated[AccessClaims, Depends(auth)]) -> dict[str, str]:
        return {"user": claims.username}

    with contextmanager(serve)(app, *tls) as served:
        yield served


def test_a_token_of_a_key_rotated_in_while_the_issuer_is_down_is_a_503_not_a_401(
    jwks_server: JWKSServer, tls: tuple[Path, Path]
) -> None:
    keys = SigningKeySet.generate("EdDSA")
    jwks_server.publish(keys)
    clock = Clock()
    source = RemoteJWKS(url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0], clock=clock)
    old = keys.issue("alice", audience=AUDIENCE, issuer=ISSUER)
    with app_of(source, tls) as served, served.client() as c:
        assert c.get("/me", headers=bearer(old)).json() == {"user": "alice"}
        # The issuer rotates in a new key, and its JWKS endpoint goes down.
        keys.rotate()
        jwks_server.publish(keys)
        jwks_server.status = 503
        new = keys.issue("bob", audience=AUDIENCE, issuer=ISSUER)
        clock.now += 31  # past min_refresh_interval; the cached set is still fresh
        for wait in ("30", "29"):  # the failed fetch, then the failure within the interval
            answer = c.get("/me", headers=bearer(new))
            assert answer.status_code == 503, answer.text
            assert answer.json() == UNAVAILABLE
            assert answer.headers["retry-after"] == wait  # when the next fetch may be tried
            assert "www-authenticate" not in answer.headers
            clock.now += 1
        assert jwks_server.hits == 2
        # Tokens of the key the cached set holds still pass.
        answer = c.get("/me", headers=bearer(old))
        assert answer.status_code == 200
        assert answer.json() == {"user": "alice"}
        # The issuer answers again: the new key is fetched, its token passes.
        jwks_server.status = 200
        clock.now += 30
        assert c.get("/me", headers=bearer(new)).json() == {"user": "bob"}
    assert jwks_server.hits == 3


def test_a_made_up_key_id_while_the_issuer_answers_is_a_401_not_a_503(
    jwks_server: JWKSServer, tls: tuple[Path, Path]
) -> None:
    keys = SigningKeySet.generate("EdDSA")
    jwks_server.publish(keys)
    clock = Clock()
    source = RemoteJWKS(url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0], clock=clock)
    good = keys.issue("alice", audience=AUDIENCE, issuer=ISSUER)
    forged = SigningKeySet.generate("EdDSA").issue("mallory", audience=AUDIENCE, issuer=ISSUER)
    with app_of(source, tls) as served, served.client() as c:
        assert c.get("/me", headers=bearer(good)).status_code == 200
        answers = []
        # Right after a good fetch; after the fetch it made for the unknown key id; and
        # after an outage that ended with a good fetch.
        answers.append(c.get("/me", headers=bearer(forged)))
        clock.now += 31
        answers.append(c.get("/me", headers=bearer(forged)))
        jwks_server.status = 503
        clock.now += 31
        assert c.get("/me", headers=bearer(forged)).status_code == 503
        jwks_server.status = 200
        clock.now += 30
        answers.append(c.get("/me", headers=bearer(forged)))
        answers.append(c.get("/me", headers=bearer(forged)))
        for answer in answers:
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"] == "invalid_token"
            assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert c.get("/me", headers=bearer(good)).status_code == 200
    assert jwks_server.hits == 4


def test_a_set_whose_key_was_taken_out_then_the_issuer_went_down_cannot_say(
    jwks_server: JWKSServer, tls: tuple[Path, Path]
) -> None:
    # The set fetched last lacks the key; the issuer may have put it back since: during
    # the outage the token is not called invalid, once the issuer answers it is.
    keys = SigningKeySet.generate("EdDSA")
    jwks_server.body = b'{"keys": []}'
    clock = Clock()
    source = RemoteJWKS(url(jwks_server), issuer=ISSUER, audience=AUDIENCE, ca=tls[0], clock=clock)
    token = keys.issue("alice", audience=AUDIENCE, issuer=ISSUER)
    with app_of(source, tls) as served, served.client() as c:
        assert c.get("/me", headers=bearer(token)).status_code == 401
        jwks_server.status = 503
        clock.now += 31
        assert c.get("/me", headers=bearer(token)).status_code == 503
        jwks_server.status = 200
        clock.now += 30
        assert c.get("/me", headers=bearer(token)).status_code == 401
        jwks_server.publish(keys)
        clock.now += 30
        assert c.get("/me", headers=bearer(token)).json() == {"user": "alice"}
    assert jwks_server.hits == 4
