"""A token of a key the cached remote JWK Set lacks, while the issuer's JWKS endpoint is
down, is one whose keys cannot be fetched (``jwks_unreachable``), not an invalid token:
the issuer may have rotated its key during the outage. After a fetch that succeeded, an
unknown key id is still unknown (``invalid_token``). The issuer's JWKS server is a real
HTTPS server on 127.0.0.1; the clock is injected."""

from __future__ import annotations

import asyncio

import pytest

from sealbox.exceptions import TokenError
from sealbox.jwt import AsyncRemoteJWKSet, RemoteJWKSet, SigningKeySet, TokenVerifier
from tests.unit.test_jwt_remote import Clock, JWKSServer, server, tls, url

__all__ = ["server", "tls"]  # the fixtures, used by name

AUDIENCE = "api"


def _go_down(srv: JWKSServer, how: str) -> None:
    if how == "5xx":
        srv.status = 503
    else:  # nothing listens on the port any more
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("how", ["5xx", "closed"])
def test_a_new_kid_while_the_issuer_is_down_is_unreachable_not_an_invalid_token(
    server: JWKSServer, tls, how: str
) -> None:
    keys = SigningKeySet.generate("EdDSA")
    server.publish(keys)
    clock = Clock()
    source = RemoteJWKSet(url(server), ca=tls[1], clock=clock, min_refresh_interval=30)
    verifier = TokenVerifier(source, audience=AUDIENCE)
    old = keys.issue("alice", audience=AUDIENCE)
    assert verifier.verify(old)["sub"] == "alice"
    keys.rotate()
    new = keys.issue("bob", audience=AUDIENCE)
    _go_down(server, how)
    clock.now += 31  # the set is fresh, and was fetched min_refresh_interval ago
    with pytest.raises(TokenError) as refused:
        verifier.verify(new)
    assert refused.value.code == "jwks_unreachable"
    message = str(refused.value)
    assert message.startswith(f"cannot fetch the key set from {url(server)}: ")
    assert ("HTTP status 503" if how == "5xx" else "ConnectError") in message
    assert "the key set at hand has no key with the token's key id" in message
    assert "30 s" in message  # when the next fetch may be tried
    assert keys.primary.kid not in message
    assert refused.value.hint == "check the issuer's JWKS URL and that it is reachable"
    assert refused.value.facts["retry_after"] == "30"
    # Tokens of the key the set at hand holds still pass, on the stale set.
    assert verifier.verify(old)["sub"] == "alice"
    assert source.fetches == 2
    source.close()


def test_a_new_kid_within_the_interval_after_a_failed_fetch_says_when_to_retry(
    server: JWKSServer, tls
) -> None:
    keys = SigningKeySet.generate("EdDSA")
    server.publish(keys)
    clock = Clock()
    source = RemoteJWKSet(url(server), ca=tls[1], clock=clock, min_refresh_interval=30)
    verifier = TokenVerifier(source, audience=AUDIENCE)
    assert verifier.verify(keys.issue("alice", audience=AUDIENCE))["sub"] == "alice"
    keys.rotate()
    new = keys.issue("bob", audience=AUDIENCE)
    server.status = 500
    clock.now += 31
    with pytest.raises(TokenError, match="HTTP status 500"):
        verifier.verify(new)
    assert server.hits == 2
    clock.now += 12  # 12 s after the failed fetch: no fetch, the failure answers
    for _ in range(2):
        with pytest.raises(TokenError) as refused:
            verifier.verify(new)
        assert refused.value.code == "jwks_unreachable"
        assert "HTTP status 500" in str(refused.value)
        assert "18 s" in str(refused.value)
        assert refused.value.facts["retry_after"] == "18"
    assert server.hits == 2
    # The issuer answers again, and the set it gives holds the new key.
    server.status = 200
    server.publish(keys)
    clock.now += 18
    assert verifier.verify(new)["sub"] == "bob"
    assert server.hits == 3
    source.close()


def test_an_unknown_kid_after_a_successful_fetch_is_still_an_invalid_token(
    server: JWKSServer, tls
) -> None:
    # Made-up key ids cannot turn good service into "cannot check now" while the issuer
    # answers: neither at once after a fetch, nor once a failed fetch was followed by one
    # that succeeded.
    keys = SigningKeySet.generate("EdDSA")
    server.publish(keys)
    old = keys.issue("alice", audience=AUDIENCE)
    clock = Clock()
    source = RemoteJWKSet(url(server), ca=tls[1], clock=clock, min_refresh_interval=30)
    assert TokenVerifier(source, audience=AUDIENCE).verify(old)["sub"] == "alice"
    for _ in range(2):
        clock.now += 31
        with pytest.raises(TokenError, match="no key with id") as refused:
            source.find("made-up")
        assert refused.value.code == "invalid_token"
        clock.now += 1
        with pytest.raises(TokenError, match="no key with id"):
            source.find("made-up-too")  # within the interval: no fetch
        server.status = 503
        clock.now += 31
        with pytest.raises(TokenError) as down:
            source.find("made-up")
        assert down.value.code == "jwks_unreachable"
        server.status = 200
    assert source.find(keys.primary.kid).kid == keys.primary.kid
    source.close()


@pytest.mark.parametrize("how", ["5xx", "closed"])
def test_the_async_set_answers_a_new_kid_during_an_outage_as_unreachable(
    server: JWKSServer, tls, how: str
) -> None:
    keys = SigningKeySet.generate("EdDSA")
    server.publish(keys)
    first = keys.primary.kid
    keys.rotate()
    clock = Clock()

    async def run() -> list[str]:
        source = AsyncRemoteJWKSet(url(server), ca=tls[1], clock=clock, min_refresh_interval=30)
        await source.ensure(first)
        _go_down(server, how)
        clock.now += 31
        codes = []
        for _ in range(2):  # the failed fetch, then the failure within the interval
            with pytest.raises(TokenError) as refused:
                await source.ensure(keys.primary.kid)
            codes.append(refused.value.code)
            assert keys.primary.kid not in str(refused.value)
            clock.now += 1
        await source.ensure(first)  # the stale set holds it
        assert source.find(first).kid == first
        assert source.fetches == 2
        await source.aclose()
        return codes

    assert asyncio.run(run()) == ["jwks_unreachable"] * 2


def test_the_async_set_still_calls_an_unknown_kid_after_a_good_fetch_unknown(
    server: JWKSServer, tls
) -> None:
    server.publish(SigningKeySet.generate("EdDSA"))
    clock = Clock()

    async def run() -> None:
        source = AsyncRemoteJWKSet(url(server), ca=tls[1], clock=clock, min_refresh_interval=30)
        await source.ensure(None)
        clock.now += 31
        await source.ensure("made-up")  # fetched again: the set has no such key
        with pytest.raises(TokenError, match="no key with id") as refused:
            source.find("made-up")
        assert refused.value.code == "invalid_token"
        await source.aclose()

    asyncio.run(run())
    assert server.hits == 2


@pytest.mark.parametrize("how", ["5xx", "closed"])
def test_jwt_verify_with_a_jwks_url_during_an_outage_says_unreachable_not_invalid(
    server: JWKSServer, tls, cli, how: str
) -> None:
    keys = SigningKeySet.generate("EdDSA")
    server.publish(keys)
    keys.rotate()
    token = keys.issue("bob", audience=AUDIENCE)
    where = url(server)
    _go_down(server, how)
    args = ["jwt", "verify", "--jwks", where, "--ca", tls[1], "--aud", AUDIENCE, "-"]
    result = cli(args, input=token.encode())
    assert result.code == 1
    assert result.out == ""
    reason = "HTTP status 503" if how == "5xx" else "ConnectError"
    assert result.stderr.splitlines() == [
        f"sealbox: error: cannot fetch the key set from {where}: {reason}",
        "sealbox: hint: check the issuer's JWKS URL and that it is reachable",
    ]
