"""sealbox.accounts.throttle: the limit check and the count are one step, in memory and in Redis."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator

import pytest

from sealbox.accounts.throttle import LocalThrottle, RedisThrottle
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
        return [(await throttle.acquire([("user:a", 3)], 60)).wait for _ in range(5)]

    answers = asyncio.run(run())
    assert answers[:3] == [0, 0, 0]
    assert answers[3:] == [60, 60]
    clock.now += 30
    assert asyncio.run(throttle.acquire([("user:a", 3)], 60)).wait == 30
    clock.now += 30  # the window is over
    assert asyncio.run(throttle.acquire([("user:a", 3)], 60)).wait == 0


def test_settle_gives_back_one_count_and_never_goes_below_zero() -> None:
    throttle = LocalThrottle(Clock())

    async def run() -> list[int]:
        await throttle.settle(give_back=["k"])  # nothing to give back
        out = [(await throttle.acquire([("k", 1)], 60)).wait]
        await throttle.settle(give_back=["k"])
        out.append((await throttle.acquire([("k", 1)], 60)).wait)
        out.append((await throttle.acquire([("k", 1)], 60)).wait)
        return out

    assert asyncio.run(run()) == [0, 0, 60]


def test_settle_clears_one_key_and_gives_back_to_another() -> None:
    throttle = LocalThrottle(Clock())

    async def run() -> list[int]:
        for _ in range(2):
            await throttle.acquire([("user:a", 2), ("addr:x", 3)], 60)
        await throttle.settle(clear=["user:a"], give_back=["addr:x"])
        # user:a starts over (2 more); addr:x had 2, gave 1 back: 2 more, then refused.
        return [(await throttle.acquire([("user:a", 2), ("addr:x", 3)], 60)).wait for _ in range(3)]

    assert asyncio.run(run()) == [0, 0, 60]


def test_a_refusal_gives_back_the_keys_counted_before_it() -> None:
    throttle = LocalThrottle(Clock())

    async def run() -> tuple[int, int]:
        await throttle.acquire([("addr:x", 1)], 60)  # the address is at its limit
        refused = (await throttle.acquire([("user:a", 1), ("addr:x", 1)], 60)).wait
        # user:a's count was given back: it may still try once.
        return refused, (await throttle.acquire([("user:a", 1)], 60)).wait

    assert asyncio.run(run()) == (60, 0)


@pytest.fixture
def fast_thread_switches() -> Iterator[None]:
    # Switch threads every microsecond, so an unguarded read-then-write would interleave.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_local_acquire_is_one_step_for_threads_with_their_own_event_loops(
    fast_thread_switches: None,
) -> None:
    throttle = LocalThrottle()
    threads, per_thread = 8, 2000
    limit = threads * per_thread // 2  # the race is below the limit, where every count matters
    allowed = [0] * threads
    barrier = threading.Barrier(threads)

    def attempt(i: int) -> None:
        async def run() -> int:
            barrier.wait()  # every loop is running: the attempts start together
            n = 0
            for _ in range(per_thread):
                n += (await throttle.acquire([("user:a", limit), ("addr:x", 10**6)], 60)).wait == 0
            return n

        allowed[i] = asyncio.run(run())

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sum(allowed) == limit
    # Only the allowed attempts reached the address key: the user key refused the
    # others first. So the address holds exactly ``limit`` counts.
    after = [asyncio.run(throttle.acquire([("addr:x", limit + 1)], 60)).wait for _ in range(2)]
    assert after[0] == 0 and after[1] > 0


@pytest.mark.redis
def test_redis_acquire_is_atomic_under_concurrent_attempts() -> None:
    require_server("Redis", 6379)
    key = "concurrent"

    async def run() -> list[int]:
        throttles = [RedisThrottle(REDIS_URL, prefix=f"{REDIS_PREFIX}throttle:") for _ in range(4)]
        try:
            await throttles[0].settle(clear=[key])
            attempts = await asyncio.gather(
                *(throttles[i % 4].acquire([(key, 5)], 60) for i in range(40))
            )
            answers = [a.wait for a in attempts]
            await throttles[0].settle(give_back=[key])
            again = (await throttles[1].acquire([(key, 5)], 60)).wait
            await throttles[0].settle(clear=[key])
            return [*answers, again]
        finally:
            for t in throttles:
                await t.close()

    answers = asyncio.run(run())
    assert sum(a == 0 for a in answers[:40]) == 5
    assert all(0 < a <= 60 for a in answers[:40] if a)
    # 40 counted, one given back: still over the limit.
    assert answers[40] > 0


@pytest.mark.redis
def test_redis_acquire_counts_every_key_or_gives_back_the_earlier_ones() -> None:
    require_server("Redis", 6379)
    prefix = f"{REDIS_PREFIX}throttle-keys:"

    async def run() -> tuple[list[int], list[int | None]]:
        throttle = RedisThrottle(REDIS_URL, prefix=prefix)

        async def counted(key: str) -> int | None:
            n, c, f = await throttle._redis.hmget(prefix + key, "n", "c", "f")
            return None if n is None else int(n) - int(c) - int(f)

        try:
            limits = [("user:b", 3), ("addr:y", 2)]
            answers = [(await throttle.acquire(limits, 60)).wait for _ in range(3)]
            # The address refused the third: the user key's count was given back.
            counts = [await counted("user:b"), await counted("addr:y")]
            await throttle.settle(clear=["user:b"], give_back=["addr:y"])
            counts += [await counted("user:b"), await counted("addr:y")]
            await throttle.settle(clear=["user:b", "addr:y"])
            return answers, counts
        finally:
            await throttle.close()

    answers, counts = asyncio.run(run())
    assert answers[:2] == [0, 0] and 0 < answers[2] <= 60
    assert counts == [2, 3, None, 2]


def test_refused_attempts_leave_no_counters_behind() -> None:
    # An address past its limit spraying new usernames: each is counted, refused by the
    # address and given back. A counter given back to zero is dropped, or the table grows
    # by one key per refused attempt (free for the attacker) until every attempt that is
    # let through pays for sweeping it.
    throttle = LocalThrottle(Clock())

    async def run() -> int:
        await throttle.acquire([("addr:x", 1)], 60)
        for i in range(1000):
            assert (await throttle.acquire([(f"user:{i}", 5), ("addr:x", 1)], 60)).wait > 0
        await throttle.acquire([("user:ok", 5)], 60)
        await throttle.settle(give_back=["user:ok"])
        return len(throttle._counts)

    assert asyncio.run(run()) == 1  # addr:x alone


def test_a_full_table_of_live_counters_is_not_swept_on_every_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(LocalThrottle, "_MAX_KEYS", 100)
    throttle = LocalThrottle(Clock())

    async def run() -> list[bool]:
        for i in range(150):  # all live: a sweep keeps them all
            await throttle.acquire([(f"addr:{i}", 5)], 60)
        swept = []
        for i in range(20):
            table = throttle._counts
            await throttle.acquire([(f"addr:more{i}", 5)], 60)
            swept.append(throttle._counts is not table)
        return swept

    assert not any(asyncio.run(run()))


@pytest.mark.redis
def test_redis_refused_attempts_leave_no_counters_behind() -> None:
    require_server("Redis", 6379)
    prefix = f"{REDIS_PREFIX}throttle-spray:"

    async def run() -> list[bytes]:
        throttle = RedisThrottle(REDIS_URL, prefix=prefix)
        try:
            await throttle.acquire([("addr:z", 1)], 60)
            for i in range(20):
                assert (await throttle.acquire([(f"user:{i}", 5), ("addr:z", 1)], 60)).wait > 0
            await throttle.acquire([("user:ok", 5)], 60)
            await throttle.settle(give_back=["user:ok"])
            keys = [k async for k in throttle._redis.scan_iter(match=f"{prefix}*")]
            await throttle.settle(clear=["addr:z"])
            await throttle._redis.delete(f"{prefix}windows")
            return sorted(keys)
        finally:
            await throttle.close()

    # addr:z, and the one key that numbers the windows of every counter under the prefix.
    assert asyncio.run(run()) == [f"{prefix}addr:z".encode(), f"{prefix}windows".encode()]
