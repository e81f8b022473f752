"""A ``RemoteJWKS`` source stops accepting tokens of a key the issuer took out of its key
set (a compromised or retired key), including tokens it verified and cached before: the
issuer's JWKS server is a real HTTPS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealbox.exceptions import TokenError
from sealbox.integrations.fastapi import RemoteJWKS
from sealbox.jwt import SigningKeySet
from tests.unit.test_jwt_remote import JWKSServer, https_jwks_server, make_tls, url

ISSUER = "https://issuer.test"
AUDIENCE = "orders-api"


@pytest.fixture
def jwks_server(tmp_path: Path) -> Iterator[tuple[JWKSServer, Path]]:
    _context, ca = make_tls(tmp_path)
    with https_jwks_server(tmp_path / "server.pem") as srv:
        yield srv, ca


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_token_of_a_key_the_issuer_removed_is_refused_once_the_set_is_fetched_again(
    jwks_server: tuple[JWKSServer, Path],
) -> None:
    srv, ca = jwks_server
    old, new = SigningKeySet.generate("EdDSA"), SigningKeySet.generate("EdDSA")
    srv.publish(old)
    clock = Clock()

    async def run() -> None:
        source = RemoteJWKS(url(srv), issuer=ISSUER, audience=AUDIENCE, ca=ca, clock=clock)
        seen = old.issue("mallory", audience=AUDIENCE, issuer=ISSUER)
        kept = new.issue("alice", audience=AUDIENCE, issuer=ISSUER)
        assert (await source.authenticate(seen)).username == "mallory"
        # The issuer takes the old key out; the cached set expires and is fetched again.
        srv.publish(new)
        clock.now += 301
        assert (await source.authenticate(kept)).username == "alice"
        with pytest.raises(TokenError) as refused:
            await source.authenticate(seen)
        assert refused.value.code == "invalid_token"
        # A token of a key still published keeps passing, from the cache or not.
        assert (await source.authenticate(kept)).username == "alice"
        await source.aclose()

    asyncio.run(run())
    assert srv.hits == 2


def test_a_cached_token_is_refused_when_only_cached_tokens_arrive_after_the_set_expires(
    jwks_server: tuple[JWKSServer, Path],
) -> None:
    # No token of an unknown key comes along to make the source fetch: the cached token's
    # own request fetches the expired set, and its key is gone from it.
    srv, ca = jwks_server
    old, new = SigningKeySet.generate("EdDSA"), SigningKeySet.generate("EdDSA")
    srv.publish(old)
    clock = Clock()

    async def run() -> None:
        source = RemoteJWKS(url(srv), issuer=ISSUER, audience=AUDIENCE, ca=ca, clock=clock)
        seen = old.issue("mallory", audience=AUDIENCE, issuer=ISSUER)
        assert (await source.authenticate(seen)).username == "mallory"
        assert (await source.authenticate(seen)).username == "mallory"
        srv.publish(new)
        clock.now += 301
        with pytest.raises(TokenError):
            await source.authenticate(seen)
        await source.aclose()

    asyncio.run(run())
    assert srv.hits == 2
