"""sealbox.service.throttle: the limit check and the count are one step, in memory and in Redis."""

from __future__ import annotations

import asyncio

import pytest

from sealbox.service.throttle import LocalThrottle, RedisThrottle, acquire_all
from tests.service.conftest import REDIS_PREFIX, REDIS_URL, require_server


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_local_acquire_counts_before_it_answers() -> None:
    clock = Clock()
    throttle = LocalThrottle(clock)

    async def run() -> list[int]:
        return [await throttle.acquire("user:a", 3, 60) for _ in range(5)]

    answers = asyncio.run(run())
    assert answers[:3] == [0, 0, 0]
    assert answers[3:] == [60, 60]
    clock.now += 30
    assert asyncio.run(throttle.acquire("user:a", 3, 60)) == 30
    clock.now += 30  # the window is over
    assert asyncio.run(throttle.acquire("user:a", 3, 60)) == 0


def test_release_gives_back_one_count_and_never_goes_below_zero() -> None:
    throttle = LocalThrottle(Clock())

    async def run() -> list[int]:
        await throttle.release("k")  # nothing to give back
        out = [await throttle.acquire("k", 1, 60)]
        await throttle.release("k")
        out.append(await throttle.acquire("k", 1, 60))
        out.append(await throttle.acquire("k", 1, 60))
        return out

    assert asyncio.run(run()) == [0, 0, 60]


def test_acquire_all_gives_back_what_it_took_when_a_later_key_refuses() -> None:
    throttle = LocalThrottle(Clock())

    async def run() -> tuple[int, int]:
        await throttle.acquire("addr:x", 1, 60)  # the address is at its limit
        refused = await acquire_all(throttle, [("user:a", 1), ("addr:x", 1)], 60)
        # user:a's count was given back: it may still try once.
        return refused, await throttle.acquire("user:a", 1, 60)

    assert asyncio.run(run()) == (60, 0)


@pytest.mark.redis
def test_redis_acquire_is_atomic_under_concurrent_attempts() -> None:
    require_server("Redis", 6379)
    key = "concurrent"

    async def run() -> list[int]:
        throttles = [RedisThrottle(REDIS_URL, prefix=f"{REDIS_PREFIX}throttle:") for _ in range(4)]
        try:
            await throttles[0].reset(key)
            answers = await asyncio.gather(
                *(throttles[i % 4].acquire(key, 5, 60) for i in range(40))
            )
            await throttles[0].release(key)
            again = await throttles[1].acquire(key, 5, 60)
            await throttles[0].reset(key)
            return [*answers, again]
        finally:
            for t in throttles:
                await t.close()

    answers = asyncio.run(run())
    assert sum(a == 0 for a in answers[:40]) == 5
    assert all(0 < a <= 60 for a in answers[:40] if a)
    # 40 counted, one given back: still over the limit.
    assert answers[40] > 0
