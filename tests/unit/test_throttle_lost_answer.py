"""A throttle step whose answer is lost runs once: the caller gets StoreUnavailableError
(a 503), never a silent second run (real Redis behind a proxy that forwards the script
and closes the connection instead of relaying Redis's answer).

Redis ran the script; a client that sent it again would give a count back twice (an
attacker's failures forgiven) or count an attempt twice. redis-py sends a command again
when told to (``retry``, ``retry_on_timeout``; the default of its ``Redis()`` constructor
since 6.0): sealbox's clients never do.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from sealbox.accounts.redis_client import connect
from sealbox.accounts.throttle import _ACQUIRE, _SETTLE, Attempt, RedisThrottle
from sealbox.exceptions import StoreUnavailableError
from tests._tcp_proxy import Proxy, proxy_to
from tests.service.conftest import REDIS_PREFIX, REDIS_URL, require_server

pytestmark = pytest.mark.redis

redis = pytest.importorskip("redis", reason="the redis extra is not installed")


def _sha(script: str) -> bytes:
    return hashlib.sha1(script.encode()).hexdigest().encode()  # the name Redis gives a script


async def _counter(prefix: str, key: str) -> dict[str, int]:
    client, _ = connect(REDIS_URL)
    try:
        stored = await client.hgetall(prefix + key)
        return {name.decode(): int(value) for name, value in stored.items()}
    finally:
        await client.aclose()


async def _two_attempts(prefix: str) -> tuple[Attempt, Attempt]:
    """Two attempts counted against ``u`` (directly, not through the proxy); the scripts
    are loaded, so the one under test is a single EVALSHA."""
    direct = RedisThrottle(REDIS_URL, prefix=prefix)
    try:
        first = await direct.acquire([("u", 100)], 60)
        second = await direct.acquire([("u", 100)], 60)
        await direct.settle(clear=["loaded"])  # loads the settle script
        return first, second
    finally:
        await direct.close()


def _through(proxy: Proxy, script: str) -> None:
    proxy.lose_reply_to = _sha(script)


def test_a_give_back_whose_answer_is_lost_gives_back_once_and_is_refused() -> None:
    require_server("Redis", 6379)
    prefix = f"{REDIS_PREFIX}lost-settle:"

    async def run() -> None:
        first, _ = await _two_attempts(prefix)
        with proxy_to("127.0.0.1", 6379) as proxy:
            throttle = RedisThrottle(f"redis://127.0.0.1:{proxy.port}/15", prefix=prefix)
            try:
                _through(proxy, _SETTLE)
                with pytest.raises(StoreUnavailableError):
                    await throttle.settle(first, give_back=["u"])
                assert proxy.replies_lost == 1
            finally:
                await throttle.close()
        # Given back once: the second attempt is still counted (twice would forgive it).
        assert await _counter(prefix, "u") == {"w": first.marks["u"][0], "n": 2, "c": 0, "f": 1}

    asyncio.run(run())


def test_an_attempt_whose_count_is_lost_is_counted_once_and_is_refused() -> None:
    require_server("Redis", 6379)
    prefix = f"{REDIS_PREFIX}lost-acquire:"

    async def run() -> None:
        first, _ = await _two_attempts(prefix)
        with proxy_to("127.0.0.1", 6379) as proxy:
            throttle = RedisThrottle(f"redis://127.0.0.1:{proxy.port}/15", prefix=prefix)
            try:
                _through(proxy, _ACQUIRE)
                with pytest.raises(StoreUnavailableError):
                    await throttle.acquire([("u", 100)], 60)
                assert proxy.replies_lost == 1
            finally:
                await throttle.close()
        assert await _counter(prefix, "u") == {"w": first.marks["u"][0], "n": 3, "c": 0, "f": 0}

    asyncio.run(run())


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"retry_on_timeout": True}, id="retry_on_timeout"),
        pytest.param({"retry": "three"}, id="retry"),
    ],
)
def test_a_client_never_sends_a_script_again_even_when_its_options_ask_to(
    options: dict[str, Any],
) -> None:
    # The URL cannot ask (retry_on_timeout=true is refused); the options of connect() are
    # redis-py's, and they cannot either. (redis-py before 6.0 resends after a timeout
    # only, not after a reset: there this passes without connect()'s policy too.)
    require_server("Redis", 6379)
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    if options.get("retry") == "three":
        options = {"retry": Retry(NoBackoff(), 3)}
    prefix = f"{REDIS_PREFIX}lost-options-{next(iter(options))}:"

    async def run() -> None:
        first, _ = await _two_attempts(prefix)
        with proxy_to("127.0.0.1", 6379) as proxy:
            client, failures = connect(f"redis://127.0.0.1:{proxy.port}/15", **options)
            settle = client.register_script(_SETTLE)
            try:
                _through(proxy, _SETTLE)
                with pytest.raises(failures):
                    await settle(keys=[prefix + "u"], args=[0, *first.marks["u"]])
                assert proxy.replies_lost == 1
            finally:
                await client.aclose()
        assert (await _counter(prefix, "u"))["f"] == 1

    asyncio.run(run())
