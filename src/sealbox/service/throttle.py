"""Login throttling: failures counted per username and per client address.

A key (``user:<name>`` or ``addr:<ip>``) may fail ``limit`` times within a fixed
window; after that, attempts are refused with the seconds left in the window,
which the route sends as ``Retry-After`` — without checking the password, so a
throttled attacker costs no Argon2 time. A successful login clears the
username's counter. Counters live in memory (one worker) or in Redis
(``INCR`` + ``EXPIRE NX``, shared by every worker and host).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

__all__ = ["LocalThrottle", "RedisThrottle", "Throttle"]


class Throttle(Protocol):
    """Counts failures per key within a window."""

    async def retry_after(self, key: str, limit: int) -> int:
        """Seconds to wait before ``key`` may try again (0: it may try now)."""

    async def failure(self, key: str, window: int) -> None:
        """Record a failure for ``key``."""

    async def reset(self, key: str) -> None:
        """Forget ``key``'s failures."""

    async def close(self) -> None:
        """Release connections."""


class LocalThrottle:
    """In-memory fixed-window counters (one process)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (failures, window end)

    async def retry_after(self, key: str, limit: int) -> int:
        count, end = self._counts.get(key, (0, 0.0))
        left = end - self._clock()
        if left <= 0:
            return 0
        return math.ceil(left) if count >= limit else 0

    async def failure(self, key: str, window: int) -> None:
        t = self._clock()
        count, end = self._counts.get(key, (0, 0.0))
        if end <= t:
            count, end = 0, t + window
        self._counts[key] = (count + 1, end)
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if v[1] > t}

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

    async def retry_after(self, key: str, limit: int) -> int:
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._prefix + key)
        pipe.ttl(self._prefix + key)
        count, ttl = await pipe.execute()
        if count is None or int(count) < limit:
            return 0
        return max(int(ttl), 1)

    async def failure(self, key: str, window: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(self._prefix + key)
        pipe.expire(self._prefix + key, window, nx=True)
        await pipe.execute()

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()
