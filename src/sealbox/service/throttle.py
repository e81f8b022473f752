"""Attempt throttling: a limit per key (a username, a client address) within a window.

An attempt is counted *before* it is checked, in the same atomic step as the
comparison with the limit: :meth:`Throttle.acquire` adds one to the key's counter
and answers 0 only if the counter is still within the limit. N attempts sent at
the same instant therefore get at most ``limit`` checks between them, and the rest
are refused with the seconds left in the window, which the route sends as
``Retry-After`` — without checking the password, so a throttled attacker costs no
Argon2 time. An attempt that succeeds gives its count back (:meth:`release`) or
clears the key (:meth:`reset`); a failure keeps it.

Counters live in memory (one worker: each ``acquire`` runs to completion on the
event loop with no ``await`` between the check and the count, which is what makes
it atomic there) or in Redis (one Lua script per ``acquire``, atomic on the server
and shared by every worker and host).

.. versionadded:: 0.1.0
.. versionchanged:: 0.1.0
   The check and the count are one step (``acquire``); ``retry_after`` and
   ``failure`` are gone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

__all__ = ["LocalThrottle", "RedisThrottle", "Throttle", "acquire_all"]

# KEYS[1] the counter; ARGV[1] the limit, ARGV[2] the window in seconds.
# Returns 0 (counted, within the limit) or the seconds until the window ends.
_ACQUIRE: Final = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if n > tonumber(ARGV[1]) then
  return math.max(ttl, 1)
end
return 0
"""
# Give one count back, never below zero and never creating the key.
_RELEASE: Final = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""


class Throttle(Protocol):
    """Counts attempts per key within a window; refuses past the limit."""

    async def acquire(self, key: str, limit: int, window: int) -> int:
        """Count an attempt of ``key``; 0 if it may go on, else the seconds to wait."""

    async def release(self, key: str) -> None:
        """Give back the count of one attempt that turned out well."""

    async def reset(self, key: str) -> None:
        """Forget ``key``'s attempts."""

    async def close(self) -> None:
        """Release connections."""


async def acquire_all(throttle: Throttle, limits: Sequence[tuple[str, int]], window: int) -> int:
    """Acquire every ``(key, limit)`` in turn; on a refusal give back those already taken.

    Returns:
        0 when all were acquired (each counts until released), else the seconds to wait.
    """
    taken: list[str] = []
    for key, limit in limits:
        wait = await throttle.acquire(key, limit, window)
        if wait:
            for earlier in taken:
                await throttle.release(earlier)
            return wait
        taken.append(key)
    return 0


class LocalThrottle:
    """In-memory fixed-window counters (one process)."""

    _MAX_KEYS: Final = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (attempts, window end)

    async def acquire(self, key: str, limit: int, window: int) -> int:
        # No await from here to the return: the check and the count are one step.
        t = self._clock()
        count, end = self._counts.get(key, (0, 0.0))
        if end <= t:
            count, end = 0, t + window
        self._counts[key] = (count + 1, end)
        if len(self._counts) > self._MAX_KEYS:
            self._counts = {k: v for k, v in self._counts.items() if v[1] > t}
        if count + 1 > limit:
            return max(math.ceil(end - t), 1)
        return 0

    async def release(self, key: str) -> None:
        count, end = self._counts.get(key, (0, 0.0))
        if count > 0:
            self._counts[key] = (count - 1, end)

    async def reset(self, key: str) -> None:
        self._counts.pop(key, None)

    async def close(self) -> None:
        return None


class RedisThrottle:
    """Fixed-window counters in Redis, shared by every worker and host."""

    def __init__(self, url: str, prefix: str = "sealbox:throttle:") -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)
        self._prefix = prefix
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)

    async def acquire(self, key: str, limit: int, window: int) -> int:
        return int(await self._acquire(keys=[self._prefix + key], args=[limit, window]))

    async def release(self, key: str) -> None:
        await self._release(keys=[self._prefix + key])

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()
