"""A remote JWK Set whose fetch failed with no set to fall back on answers lookups with
that failure until ``min_refresh_interval`` has passed, instead of fetching for each one:
an issuer that is down is not sent a request for every token its clients present. The
issuer's JWKS server is a real HTTPS server on 127.0.0.1; the clock is injected."""

from __future__ import annotations

import asyncio

import pytest

from sealbox.exceptions import PinMismatchError, TokenError
from sealbox.integrations.fastapi import RemoteJWKS
from sealbox.jwt import AsyncRemoteJWKSet, RemoteJWKSet, SigningKeySet
from tests.unit.test_jwt_remote import Clock, JWKSServer, server, tls, url

__all__ = ["server", "tls"]  # the fixtures, used by name

ISSUER = "https://issuer.test"
AUDIENCE = "orders-api"


def test_lookups_after_a_failed_first_fetch_wait_out_the_interval_before_fetching_again(
    server: JWKSServer, tls
) -> None:
    server.status = 503
    clock = Clock()
    source = RemoteJWKSet(url(server), ca=tls[1], clock=clock, min_refresh_interval=30)
    for _ in range(5):
        with pytest.raises(TokenError, match="HTTP status 503") as exc:
            source.find("k")
        assert exc.value.code == "jwks_unreachable"
        clock.now += 5
    assert server.hits == 1
    keys = SigningKeySet.generate()
    server.status = 200
    server.publish(keys)
    clock.now += 5  # 30 s since the failed fetch
    assert source.find(keys.primary.kid).kid == keys.primary.kid
    assert server.hits == 2
    source.close()


def test_requests_to_an_api_whose_issuer_is_down_do_not_each_fetch_the_key_set(
    server: JWKSServer, tls
) -> None:
    keys = SigningKeySet.generate()
    server.publish(keys)
    server.status = 500
    clock = Clock()
    token = keys.issue("alice", audience=AUDIENCE, issuer=ISSUER)

    async def run() -> list[str | None]:
        source = RemoteJWKS(url(server), issuer=ISSUER, audience=AUDIENCE, ca=tls[1], clock=clock)
        codes = []
        for _ in range(10):
            try:
                await source.authenticate(token)
            except TokenError as exc:
                codes.append(exc.code)
        server.status = 200
        clock.now += 30
        codes.append((await source.authenticate(token)).username)
        assert source.keys.fetches == 2
        await source.aclose()
        return codes

    # Each request is answered as one the keys could not be fetched for (503), not as a bad token.
    assert asyncio.run(run()) == ["jwks_unreachable"] * 10 + ["alice"]
    assert server.hits == 2


def test_a_server_refused_for_its_pin_is_not_connected_to_again_within_the_interval(
    server: JWKSServer, tls
) -> None:
    bad_pin = "sha256//" + "A" * 43 + "="
    clock = Clock()

    async def run() -> tuple[list[PinMismatchError], int]:
        source = AsyncRemoteJWKSet(url(server), ca=tls[1], pins=[bad_pin], clock=clock)
        errors = []
        for _ in range(3):
            with pytest.raises(PinMismatchError) as exc:
                await source.ensure("k")
            errors.append(exc.value)
        fetches = source.fetches
        await source.aclose()
        return errors, fetches

    errors, fetches = asyncio.run(run())
    assert fetches == 1
    # Each lookup raises an error of its own, naming the server the refused key came from.
    assert len({id(e) for e in errors}) == 3
    assert all(e.facts == errors[0].facts and str(e) == str(errors[0]) for e in errors)
