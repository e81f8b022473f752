"""Attempt throttling: a limit per key (a username, a client address) within a window.

An attempt is counted *before* it is checked, in the same atomic step as the
comparison with the limit: :meth:`Throttle.acquire` adds one to the counter of every
key the attempt is made against (its username and its address) and answers 0 only if
every counter is still within its limit. N attempts sent at the same instant therefore
get at most ``limit`` checks between them, and the rest are refused with the seconds
left in the window, which the route sends as ``Retry-After`` — without checking the
password, so a throttled attacker costs no Argon2 time. A refused attempt stays
counted against the key that refused it and is given back to the others. An attempt
that succeeds gives its counts back or clears them (:meth:`Throttle.settle`); a
failure keeps them.

Counters live in memory (one process: the step runs under one lock, held for a few
dict operations and never across an ``await``, so threads and event loops sharing a
:class:`LocalThrottle` see it as one step too) or in Redis (one Lua script per step,
atomic on the server and shared by every worker and host; a login costs two round
trips, the acquire and the settle). A Redis that does not answer refuses the attempt:
:class:`~sealbox.exceptions.StoreUnavailableError`, answered ``503`` by the routes.

.. versionadded:: 0.1.0
.. versionchanged:: 0.1.0
   The check and the count are one step (``acquire``) over all the keys of an attempt;
   ``retry_after`` and ``failure`` are gone.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from sealbox.accounts.redis_client import connect, unavailable

__all__ = ["Limit", "LocalThrottle", "RedisThrottle", "Throttle"]

#: A key and the attempts it may make within the window.
Limit = tuple[str, int]

# KEYS the counters; ARGV[1] the window in seconds, ARGV[1 + i] the limit of KEYS[i].
# Each counter is incremented in turn; the first past its limit stays counted, the
# earlier ones are given back (a counter back at zero is deleted: refused attempts leave
# no keys behind), and the answer is the seconds until its window ends.
# All keys within their limits: 0, and every one stays counted.
_ACQUIRE: Final = """
local window = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, window)
    ttl = window
  end
  if n > tonumber(ARGV[i + 1]) then
    for j = 1, i - 1 do
      if tonumber(redis.call('GET', KEYS[j]) or '0') > 0 and redis.call('DECR', KEYS[j]) <= 0 then
        redis.call('DEL', KEYS[j])
      end
    end
    return math.max(ttl, 1)
  end
end
return 0
"""
# KEYS: ARGV[1] keys to clear, then keys to give one count back to (never below zero,
# never creating a key; one back at zero is deleted).
_SETTLE: Final = """
local clear = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if i <= clear then
    redis.call('DEL', key)
  elseif tonumber(redis.call('GET', key) or '0') > 0 and redis.call('DECR', key) <= 0 then
    redis.call('DEL', key)
  end
end
return 0
"""


class Throttle(Protocol):
    """Counts attempts per key within a window; refuses past a limit."""

    async def acquire(self, limits: Sequence[Limit], window: int) -> int:
        """Count an attempt against every key of ``limits``, in one atomic step.

        Returns:
            0 if every key is within its limit (each stays counted until settled),
            else the seconds to wait.
        """

    async def settle(self, *, clear: Sequence[str] = (), give_back: Sequence[str] = ()) -> None:
        """An attempt went well: forget ``clear``'s counts, give one back to ``give_back``."""

    async def close(self) -> None:
        """Release connections."""


class LocalThrottle:
    """In-memory fixed-window counters (one process).

    A counter given back to zero is dropped, so refused attempts add no keys; past
    ``_MAX_KEYS`` counters the expired ones are swept, and the next sweep waits until
    the table has doubled, so a table of live counters is not swept on every attempt.
    """

    _MAX_KEYS: int = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (attempts, window end)
        # One lock for the table, not one per key: it guards a few dict operations.
        self._lock = threading.Lock()
        self._sweep_at = self._MAX_KEYS

    async def acquire(self, limits: Sequence[Limit], window: int) -> int:
        with self._lock:
            t = self._clock()
            for i, (key, limit) in enumerate(limits):
                count, end = self._counts.get(key, (0, 0.0))
                if end <= t:
                    count, end = 0, t + window
                self._counts[key] = (count + 1, end)
                if count + 1 > limit:
                    for earlier, _ in limits[:i]:
                        self._give_back(earlier)
                    return max(math.ceil(end - t), 1)
            if len(self._counts) > self._sweep_at:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > t}
                self._sweep_at = max(self._MAX_KEYS, 2 * len(self._counts))
            return 0

    async def settle(self, *, clear: Sequence[str] = (), give_back: Sequence[str] = ()) -> None:
        with self._lock:
            for key in clear:
                self._counts.pop(key, None)
            for key in give_back:
                self._give_back(key)

    def _give_back(self, key: str) -> None:
        count, end = self._counts.get(key, (0, 0.0))
        if count > 1:
            self._counts[key] = (count - 1, end)
        elif count == 1:
            del self._counts[key]

    async def close(self) -> None:
        return None


class RedisThrottle:
    """Fixed-window counters in Redis, shared by every worker and host.

    The keys of one attempt are passed to one script, so they must live on one server
    (a single Redis or a primary with replicas, not a Redis Cluster).
    """

    def __init__(self, url: str, prefix: str = "sealbox:throttle:") -> None:
        self._redis, self._failures = connect(url)
        self._prefix = prefix
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._settle = self._redis.register_script(_SETTLE)

    async def acquire(self, limits: Sequence[Limit], window: int) -> int:
        keys = [self._prefix + key for key, _ in limits]
        try:
            return int(await self._acquire(keys=keys, args=[window, *(n for _, n in limits)]))
        except self._failures as exc:
            raise unavailable(exc, "counting an attempt") from None

    async def settle(self, *, clear: Sequence[str] = (), give_back: Sequence[str] = ()) -> None:
        keys = [self._prefix + key for key in (*clear, *give_back)]
        if keys:
            try:
                await self._settle(keys=keys, args=[len(clear)])
            except self._failures as exc:
                raise unavailable(exc, "settling an attempt's count") from None

    async def close(self) -> None:
        await self._redis.aclose()
