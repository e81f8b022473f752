"""The Redis client of the accounts' shared state (revocations, throttles), and what its
failures become.

A Redis that does not answer becomes :class:`~sealbox.exceptions.StoreUnavailableError`
at the call that needed it, named by what was being done; never the client's own
exception, whose message may quote the server's address.

It imports ``redis`` (the ``redis`` extra) only when a client is made.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any

from sealbox.exceptions import StoreUnavailableError

__all__ = ["connect", "ping", "unavailable"]


def connect(url: str, **options: Any) -> tuple[Any, tuple[type[BaseException], ...]]:
    """An asyncio Redis client for ``url`` (``options`` are redis-py's), and the
    exceptions a failed call raises."""
    import redis.asyncio as redis
    from redis.exceptions import RedisError

    return redis.from_url(url, **options), (RedisError, OSError)


async def ping(url: str, operation: str, timeout: float = 5.0) -> None:
    """Check that the Redis at ``url`` answers a ``PING`` within ``timeout`` seconds.

    Raises:
        StoreUnavailableError: it does not, while doing ``operation``.
    """
    client, failures = connect(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        await client.ping()
    except failures as exc:
        raise unavailable(exc, operation) from None
    finally:
        await client.aclose()


def unavailable(exc: BaseException, operation: str) -> StoreUnavailableError:
    """The error for a call to Redis that failed with ``exc`` while doing ``operation``."""
    return StoreUnavailableError("Redis", operation, type(exc).__name__)
