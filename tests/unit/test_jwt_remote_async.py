"""sealbox.jwt.AsyncRemoteJWKSet: a JWK Set fetched without blocking an event loop, from a real
HTTPS server on 127.0.0.1 (the server of test_jwt_remote); the clock is injected."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx2
import pytest

from sealbox.exceptions import ConfigError, PinMismatchError, TokenError
from sealbox.jwt import AsyncRemoteJWKSet, SigningKeySet, TokenVerifier
from sealbox.tls.pinning import pin_from_file
from tests.unit.test_jwt_remote import T0, Clock, JWKSServer, server, tls, url

__all__ = ["server", "tls"]  # the fixtures, used by name


def _remote(srv: JWKSServer, ca: Path, clock: Clock, **kwargs) -> AsyncRemoteJWKSet:
    return AsyncRemoteJWKSet(url(srv), ca=ca, clock=clock, **kwargs)


def test_fetches_once_over_https_then_answers_from_the_cache(server, tls) -> None:
    keys = SigningKeySet.generate()
    server.publish(keys)
    clock = Clock()

    async def run() -> None:
        source = _remote(server, tls[1], clock)
        verifier = TokenVerifier(source, audience="api")
        for _ in range(3):
            await source.ensure(keys.primary.kid)
            token = keys.issue("u", audience="api", now=T0)
            assert verifier.verify(token, now=T0)["sub"] == "u"
        assert server.hits == 1
        clock.now += 300  # cache_ttl reached
        await source.ensure(keys.primary.kid)
        assert server.hits == 2
        await source.aclose()

    asyncio.run(run())


def test_an_unknown_kid_refetches_at_most_once_per_interval(server, tls) -> None:
    old = SigningKeySet.generate()
    server.publish(old)
    clock = Clock()

    async def run() -> None:
        source = _remote(server, tls[1], clock, min_refresh_interval=30)
        await source.ensure(old.primary.kid)
        assert server.hits == 1
        # Made-up key ids do not make it hammer the issuer.
        for n in range(5):
            await source.ensure(f"made-up-{n}")
        assert server.hits == 1
        # The issuer rotates; past the interval, the new key id is fetched at once.
        new = SigningKeySet.generate()
        server.publish(new)
        clock.now += 30
        await source.ensure(new.primary.kid)
        assert server.hits == 2
        token = new.issue("u", audience="api", now=T0)
        assert TokenVerifier(source, audience="api").verify(token, now=T0)["sub"] == "u"
        await source.aclose()

    asyncio.run(run())


def test_concurrent_requests_for_an_unknown_kid_share_one_fetch(server, tls) -> None:
    keys = SigningKeySet.generate()
    server.publish(keys)

    async def run() -> None:
        source = _remote(server, tls[1], Clock())
        await asyncio.gather(*(source.ensure(keys.primary.kid) for _ in range(20)))
        await source.aclose()

    asyncio.run(run())
    assert server.hits == 1


def test_callers_waiting_on_a_failing_fetch_share_it_and_each_raise_their_own_error(
    server, tls
) -> None:
    server.status = 503  # the issuer is down, and there is no set to fall back on

    async def run() -> list[BaseException]:
        source = _remote(server, tls[1], Clock())
        # The first caller fetches; the others wait on it and share its outcome.
        errors = await asyncio.gather(
            *(source.ensure("k") for _ in range(8)), return_exceptions=True
        )
        assert source.fetches == 1
        await source.aclose()
        return [e for e in errors if isinstance(e, BaseException)]

    errors = asyncio.run(run())
    assert len(errors) == 8
    assert {type(e) for e in errors} == {TokenError}
    assert {e.code for e in errors if isinstance(e, TokenError)} == {"jwks_unreachable"}
    # One exception object per caller: one object raised by each would carry the
    # traceback of the last caller to raise it only.
    assert len({id(e) for e in errors}) == 8
    assert server.hits == 1


def test_an_unknown_kid_in_an_expired_set_is_fetched_once_per_lookup(server, tls) -> None:
    server.publish(SigningKeySet.generate())
    clock = Clock()

    async def run() -> None:
        source = _remote(server, tls[1], clock, cache_ttl=60, min_refresh_interval=0)
        await source.refresh()
        clock.now += 60  # expired
        await source.ensure("made-up")
        with pytest.raises(TokenError, match="no key with id"):
            source.find("made-up")
        assert source.fetches == 2
        await source.aclose()

    asyncio.run(run())
    assert server.hits == 2


def test_a_pinned_issuer_key_is_accepted_and_another_refused_before_any_request(
    server, tls, tmp_path: Path
) -> None:
    keys = SigningKeySet.generate()
    server.publish(keys)
    chain = (tmp_path / "server.pem").read_text()
    certificate = tmp_path / "server.crt"
    certificate.write_text(chain[: chain.index("-----END CERTIFICATE-----") + 25] + "\n")
    good = pin_from_file(certificate)
    wrong = "sha256//" + "A" * 43 + "="

    async def run() -> None:
        pinned = _remote(server, tls[1], Clock(), pins=[good])
        await pinned.ensure(keys.primary.kid)
        await pinned.aclose()
        assert server.hits == 1
        refused = _remote(server, tls[1], Clock(), pins=[wrong])
        with pytest.raises(PinMismatchError, match="matches no configured pin"):
            await refused.ensure(keys.primary.kid)
        await refused.aclose()

    asyncio.run(run())
    assert server.hits == 1


def test_the_last_good_set_is_kept_while_fetches_fail(server, tls) -> None:
    keys = SigningKeySet.generate()
    server.publish(keys)
    clock = Clock()

    async def run() -> None:
        source = _remote(server, tls[1], clock)
        await source.ensure(keys.primary.kid)
        server.status = 500
        clock.now += 301
        await source.ensure(keys.primary.kid)  # logged, not raised
        assert source.find(keys.primary.kid).kid == keys.primary.kid
        await source.aclose()

    asyncio.run(run())
    assert server.hits == 2


def test_a_url_in_clear_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be https"):
        AsyncRemoteJWKSet("http://127.0.0.1:1/jwks.json")


def test_an_untrusted_certificate_is_refused_with_the_blocking_fetchers_code(server) -> None:
    async def run() -> None:
        source = AsyncRemoteJWKSet(url(server), clock=Clock())  # the system trust store
        with pytest.raises(TokenError, match=r"cannot fetch the key set.*not trusted") as exc:
            await source.ensure("k")
        assert exc.value.code == "jwks_unverified"
        assert exc.value.facts == {"url": url(server)}
        await source.aclose()

    asyncio.run(run())


def test_an_ssl_context_is_the_default_clients_trust(server, tls) -> None:
    keys = SigningKeySet.generate()
    server.publish(keys)
    context = ssl.create_default_context(cafile=str(tls[1]))

    async def run() -> None:
        source = AsyncRemoteJWKSet(url(server), ssl_context=context, clock=Clock())
        await source.ensure(keys.primary.kid)
        assert source.find(keys.primary.kid).kid == keys.primary.kid
        await source.aclose()

    asyncio.run(run())
    assert server.hits == 1


def test_trust_is_given_one_way_at_most(tls) -> None:
    context = ssl.create_default_context(cafile=str(tls[1]))
    where = "https://127.0.0.1/jwks"
    with pytest.raises(ConfigError, match="not more than one"):
        AsyncRemoteJWKSet(where, ca=tls[1], ssl_context=context)

    async def run() -> None:
        async with httpx2.AsyncClient() as client:
            with pytest.raises(ConfigError, match="not more than one"):
                AsyncRemoteJWKSet(where, pins=pin_from_file(tls[1]), client=client)
            with pytest.raises(ConfigError, match="not more than one"):
                AsyncRemoteJWKSet(where, ssl_context=context, client=client)

    asyncio.run(run())


def test_as_an_async_context_manager_it_closes_the_client_it_made(server, tls) -> None:
    keys = SigningKeySet.generate()
    server.publish(keys)

    async def run() -> None:
        async with _remote(server, tls[1], Clock()) as source:
            await source.ensure(keys.primary.kid)
            client = source._client
            assert not client.is_closed
        assert client.is_closed

    asyncio.run(run())


def test_a_callers_client_is_left_open(server, tls) -> None:
    keys = SigningKeySet.generate()
    server.publish(keys)

    async def run() -> None:
        async with httpx2.AsyncClient(
            verify=ssl.create_default_context(cafile=str(tls[1]))
        ) as mine:
            async with AsyncRemoteJWKSet(url(server), client=mine, clock=Clock()) as source:
                await source.ensure(keys.primary.kid)
            assert not mine.is_closed

    asyncio.run(run())


def test_a_compressed_key_set_is_refused_not_inflated(server, tls) -> None:
    import gzip

    server.body = gzip.compress(b'{"keys": [' + b" " * (64 << 20) + b"]}", compresslevel=9)
    server.content_encoding = "gzip"

    async def run() -> None:
        source = _remote(server, tls[1], Clock())
        try:
            with pytest.raises(TokenError, match="came compressed"):
                await source.ensure("k")
        finally:
            await source.aclose()

    asyncio.run(run())
    assert server.accept_encoding == ["identity"]


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_a_timeout_that_bounds_no_fetch_is_refused(timeout):
    # NaN, 0 and below were taken: asyncio.timeout() of them ends every fetch at once.
    with pytest.raises(ConfigError, match="timeout must be a positive number of seconds"):
        AsyncRemoteJWKSet("https://127.0.0.1/jwks", timeout=timeout)


def test_callers_waiting_on_a_fetch_refused_for_its_pin_each_learn_the_server(server, tls) -> None:
    server.publish(SigningKeySet.generate())
    other = "sha256//" + "A" * 43 + "="  # no key's pin

    async def run() -> list[BaseException]:
        source = _remote(server, tls[1], Clock(), pins=[other])
        errors = await asyncio.gather(
            *(source.ensure("k") for _ in range(4)), return_exceptions=True
        )
        await source.aclose()
        return [e for e in errors if isinstance(e, BaseException)]

    errors = asyncio.run(run())
    assert len(errors) == 4
    assert all(isinstance(e, PinMismatchError) for e in errors)
    # The waiters' copies keep the facts of the one refusal they share.
    servers = {e.facts.get("server") for e in errors if isinstance(e, PinMismatchError)}
    assert servers == {"127.0.0.1"}
