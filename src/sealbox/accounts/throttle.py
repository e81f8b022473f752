"""Attempt throttling: a limit per key (a username, a client address) within a window.

An attempt is counted *before* it is checked, in the same atomic step as the
comparison with the limit: :meth:`Throttle.acquire` adds one to the counter of every
key the attempt is made against (its username and its address) and lets it through
only if every counter is still within its limit. N attempts sent at the same instant
therefore get at most ``limit`` checks between them, and the rest are refused with the
seconds left in the window, which the route sends as ``Retry-After`` — without checking
the password, so a throttled attacker costs no Argon2 time. A refused attempt stays
counted against the key that refused it and is given back to the others. An attempt
that succeeds gives its counts back or clears them (:meth:`Throttle.settle`); a
failure keeps them.

A settle names the :class:`Attempt` it settles, which holds each key's window and the
attempt's place in it: clearing forgets the attempts counted up to that place, never
those counted after it (wrong guesses sent while a right password was being checked
stay counted), and neither a clear nor a give-back reaches into a later window than
the attempt's own (an attempt begun before a window ended gives nothing to the next).

Counters live in memory (one process: the step runs under one lock, held for a few
dict operations and never across an ``await``, so threads and event loops sharing a
:class:`LocalThrottle` see it as one step too) or in Redis (one Lua script per step,
atomic on the server and shared by every worker and host; a login costs two round
trips, the acquire and the settle). A Redis that does not answer refuses the attempt:
:class:`~sealbox.exceptions.StoreUnavailableError`, answered ``503`` by the routes.

.. versionadded:: 0.1.0
.. versionchanged:: 0.1.0
   The check and the count are one step (``acquire``) over all the keys of an attempt;
   ``retry_after`` and ``failure`` are gone. ``acquire`` answers an :class:`Attempt`,
   which ``settle`` takes.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from sealbox.accounts.redis_client import connect, unavailable

__all__ = ["Attempt", "Limit", "LocalThrottle", "RedisThrottle", "Throttle"]

#: A key and the attempts it may make within the window.
Limit = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Attempt:
    """What :meth:`Throttle.acquire` counted.

    Attributes:
        wait: 0 if the attempt may be checked, else the seconds to wait (refused).
        marks: for each key counted, its window and the attempt's place in it
            (opaque; :meth:`Throttle.settle` reads them).
    """

    wait: int
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)


# A counter is a hash: ``w`` its window (a number no other window of any key had), ``n``
# the attempts counted in it, ``c`` the place up to which a success forgave them, ``f``
# the attempts given back since; ``n - c - f`` are counted. One at zero is deleted (no
# attempt of it is still counted, so no settle needs it). ``ARGV[1]`` the window in
# seconds, ``ARGV[1 + i]`` the limit of ``KEYS[i]``; the last key numbers the windows.
# Each counter is incremented in turn; the first past its limit stays counted, the
# earlier ones are taken back, and the answer is the seconds until its window ends.
# All within their limits: 0 and, for each key, its window and the attempt's place.
_ACQUIRE: Final = """
local window = tonumber(ARGV[1])
local last = #KEYS - 1
local out = {0}
for i = 1, last do
  local key = KEYS[i]
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'w', redis.call('INCR', KEYS[#KEYS]), 'n', 0, 'c', 0, 'f', 0)
    redis.call('EXPIRE', key, window)
  elseif redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, window)
  end
  local n = redis.call('HINCRBY', key, 'n', 1)
  local v = redis.call('HMGET', key, 'w', 'c', 'f')
  if n - tonumber(v[2]) - tonumber(v[3]) > tonumber(ARGV[i + 1]) then
    for j = 1, i - 1 do
      local m = redis.call('HINCRBY', KEYS[j], 'n', -1)
      local u = redis.call('HMGET', KEYS[j], 'c', 'f')
      if m - tonumber(u[1]) - tonumber(u[2]) <= 0 then
        redis.call('DEL', KEYS[j])
      end
    end
    return {math.max(redis.call('TTL', key), 1)}
  end
  out[#out + 1] = tonumber(v[1])
  out[#out + 1] = n
end
return out
"""
# KEYS the counters; ARGV[1] how many of them to clear (the rest are given one count
# back), then for each key the window and place of the attempt settled (0 0: none, and
# a clear deletes, a give-back takes one from whatever window is current).
_SETTLE: Final = """
local clear = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local w, at = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local v = redis.call('HMGET', key, 'w', 'n', 'c', 'f')
  if v[1] then
    local n, c, f = tonumber(v[2]), tonumber(v[3]), tonumber(v[4])
    if w == 0 and i <= clear then
      c, f = n, 0
    elseif w == 0 or (w == tonumber(v[1]) and at > c) then
      if i <= clear then
        c, f = at, 0
      else
        f = f + 1
      end
    end
    if n - c - f <= 0 then
      redis.call('DEL', key)
    else
      redis.call('HSET', key, 'c', c, 'f', f)
    end
  end
end
return 0
"""


class Throttle(Protocol):
    """Counts attempts per key within a window; refuses past a limit."""

    async def acquire(self, limits: Sequence[Limit], window: int) -> Attempt:
        """Count an attempt against every key of ``limits``, in one atomic step.

        Returns:
            the attempt: ``wait`` 0 if every key is within its limit (each stays counted
            until settled), else the seconds to wait.
        """

    async def settle(
        self,
        attempt: Attempt | None = None,
        *,
        clear: Sequence[str] = (),
        give_back: Sequence[str] = (),
    ) -> None:
        """``attempt`` went well: ``clear``'s keys forget the attempts counted up to it, and
        ``give_back``'s give its count back (within its windows). Without ``attempt``,
        ``clear``'s counters are deleted and ``give_back``'s give one count back."""

    async def close(self) -> None:
        """Release connections."""


class _Counter:
    __slots__ = ("c", "end", "f", "n", "w")

    def __init__(self, w: int, end: float) -> None:
        self.w, self.end, self.n, self.c, self.f = w, end, 0, 0, 0

    @property
    def counted(self) -> int:
        return self.n - self.c - self.f

    def holds(self, mark: tuple[int, int]) -> bool:
        """Whether the attempt of ``mark`` is counted in this window and not forgiven."""
        return self.w == mark[0] and mark[1] > self.c


class LocalThrottle:
    """In-memory fixed-window counters (one process).

    A counter back at zero is dropped, so refused attempts add no keys; past
    ``_MAX_KEYS`` counters the expired ones are swept, and the next sweep waits until
    the table has doubled, so a table of live counters is not swept on every attempt.
    """

    _MAX_KEYS: int = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, _Counter] = {}
        self._windows = itertools.count(1)
        # One lock for the table, not one per key: it guards a few dict operations.
        self._lock = threading.Lock()
        self._sweep_at = self._MAX_KEYS

    async def acquire(self, limits: Sequence[Limit], window: int) -> Attempt:
        with self._lock:
            t = self._clock()
            marks: dict[str, tuple[int, int]] = {}
            for i, (key, limit) in enumerate(limits):
                counter = self._counts.get(key)
                if counter is None or counter.end <= t:
                    counter = self._counts[key] = _Counter(next(self._windows), t + window)
                counter.n += 1
                if counter.counted > limit:
                    for earlier, _ in limits[:i]:
                        self._counts[earlier].n -= 1
                        self._drop_if_empty(earlier)
                    return Attempt(max(math.ceil(counter.end - t), 1))
                marks[key] = (counter.w, counter.n)
            if len(self._counts) > self._sweep_at:
                self._counts = {k: v for k, v in self._counts.items() if v.end > t}
                self._sweep_at = max(self._MAX_KEYS, 2 * len(self._counts))
            return Attempt(0, marks)

    async def settle(
        self,
        attempt: Attempt | None = None,
        *,
        clear: Sequence[str] = (),
        give_back: Sequence[str] = (),
    ) -> None:
        marks = attempt.marks if attempt is not None else {}
        with self._lock:
            for key in clear:
                counter = self._counts.get(key)
                if counter is None:
                    continue
                mark = marks.get(key)
                if mark is None:
                    counter.c, counter.f = counter.n, 0
                elif counter.holds(mark):
                    counter.c, counter.f = mark[1], 0
                self._drop_if_empty(key)
            for key in give_back:
                counter = self._counts.get(key)
                mark = marks.get(key)
                if counter is None or (mark is not None and not counter.holds(mark)):
                    continue
                counter.f += 1
                self._drop_if_empty(key)

    def _drop_if_empty(self, key: str) -> None:
        if self._counts[key].counted <= 0:
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

    async def acquire(self, limits: Sequence[Limit], window: int) -> Attempt:
        keys = [self._prefix + key for key, _ in limits]
        try:
            out = await self._acquire(
                keys=[*keys, self._prefix + "windows"],
                args=[window, *(n for _, n in limits)],
            )
        except self._failures as exc:
            raise unavailable(exc, "counting an attempt") from None
        if int(out[0]):
            return Attempt(int(out[0]))
        return Attempt(
            0,
            {key: (int(out[1 + 2 * i]), int(out[2 + 2 * i])) for i, (key, _) in enumerate(limits)},
        )

    async def settle(
        self,
        attempt: Attempt | None = None,
        *,
        clear: Sequence[str] = (),
        give_back: Sequence[str] = (),
    ) -> None:
        named = [*clear, *give_back]
        if not named:
            return
        marks = attempt.marks if attempt is not None else {}
        args: list[int] = [len(clear)]
        for key in named:
            args += marks.get(key, (0, 0))
        try:
            await self._settle(keys=[self._prefix + key for key in named], args=args)
        except self._failures as exc:
            raise unavailable(exc, "settling an attempt's count") from None

    async def close(self) -> None:
        await self._redis.aclose()
