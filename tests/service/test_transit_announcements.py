"""The announcements of transit key changes between workers (Redis publish/subscribe)
when Redis accepts and never answers: the subscription is found lost and made again,
a quiet but healthy one is kept however long nothing changes, and an announcement does
not hold the change it follows. Real Redis, reached through a forwarder the test hangs."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from sealbox.accounts import redis_client
from sealbox.accounts.redis_client import connect
from sealbox.service.transit_store import RedisKeyEvents
from tests._tcp_proxy import proxy_to

pytestmark = pytest.mark.redis

# Generous bounds for a slow machine: reaching one is a failure, never a measurement.
_PATIENCE = 30.0
# The clients' default socket timeout, made short where a test waits it out (suite time);
# it still comes from connect(), as for a URL that names none.
_SHORT_TIMEOUT = 1.0


async def _until(condition, what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), _PATIENCE)
    except TimeoutError:
        pytest.fail(f"never: {what}")


async def _heard(channel: str, changes: list[str | None]) -> None:
    """Announce a change of ``k`` until the subscriber has heard it (a subscription
    just made may not yet be registered by Redis)."""
    publisher, _ = connect("redis://127.0.0.1:6379/15")
    try:
        for _ in range(int(_PATIENCE / 0.2)):
            await publisher.publish(channel, "k")
            await asyncio.sleep(0.2)
            if "k" in changes:
                return
        pytest.fail("the announcement never heard")
    finally:
        await publisher.aclose()


def _channel() -> str:
    return f"sealbox-test-{os.urandom(6).hex()}:transit:keys"


def test_a_subscription_whose_redis_stops_answering_is_lost_and_made_again(
    caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_client, "SOCKET_TIMEOUT", _SHORT_TIMEOUT)

    async def run() -> None:
        with proxy_to("127.0.0.1", 6379) as proxy:
            channel = _channel()
            # The client's own socket timeout, as deployed (shortened, not named by the URL).
            events = RedisKeyEvents(f"redis://127.0.0.1:{proxy.port}/15", channel=channel)
            events.quiet = 0.5
            changes: list[str | None] = []
            await events.start(changes.append)
            assert events.subscribed.is_set()
            changes.clear()

            proxy.hang()
            try:
                # Until found lost, a worker would trust its keys with no word of change.
                await _until(lambda: not events.subscribed.is_set(), "the subscription lost")
                assert None in changes  # every snapshot dropped
            finally:
                proxy.restore()
            await _until(events.subscribed.is_set, "the subscription made again")

            await _heard(channel, changes)  # announcements reach it again
            await events.close()

    with caplog.at_level(logging.WARNING, logger="sealbox.service"):
        asyncio.run(run())
    said = [r.getMessage() for r in caplog.records]
    assert any("subscription lost (" in m for m in said), said
    assert any("subscription restored" in m for m in said), said
    assert not any("127.0.0.1" in m for m in said), said


def test_a_quiet_subscription_outlives_the_socket_timeout(caplog) -> None:
    # A subscription waits for changes as long as none is made: the client's socket
    # timeout (1 s here) bounds each answer Redis owes, never the wait for a change.
    async def run() -> list[str | None]:
        channel = _channel()
        events = RedisKeyEvents("redis://127.0.0.1:6379/15?socket_timeout=1", channel=channel)
        events.quiet = 0.5  # asked and answering PINGs meanwhile
        changes: list[str | None] = []
        await events.start(changes.append)
        changes.clear()
        await asyncio.sleep(3.5)  # quiet for three socket timeouts
        assert events.subscribed.is_set()
        await _heard(channel, changes)
        await events.close()
        return changes

    with caplog.at_level(logging.DEBUG, logger="sealbox.service"):
        changes = asyncio.run(run())
    assert set(changes) == {"k"}  # nothing forgotten in between: the subscription was kept
    assert not [r for r in caplog.records if "subscription lost" in r.getMessage()]


def test_an_announcement_to_a_redis_that_never_answers_gives_up_and_says_so(
    caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The key's change is committed before it is announced: the request making it must
    # not wait for ever on the announcement.
    monkeypatch.setattr(redis_client, "SOCKET_TIMEOUT", _SHORT_TIMEOUT)

    async def run() -> None:
        with proxy_to("127.0.0.1", 6379) as proxy:
            events = RedisKeyEvents(f"redis://127.0.0.1:{proxy.port}/15", channel=_channel())
            await events.start(lambda _name: None)
            proxy.hang()
            try:
                await asyncio.wait_for(events.publish("k"), _PATIENCE)
            except TimeoutError:
                pytest.fail("the announcement waited for ever")
            finally:
                proxy.restore()
                await events.close()

    with caplog.at_level(logging.WARNING, logger="sealbox.service"):
        asyncio.run(run())
    said = [r.getMessage() for r in caplog.records]
    assert any("could not announce a change of transit key 'k'" in m for m in said), said
