"""A success settles only its own attempt: the wrong guesses counted after it, or in a
later window, stay counted (sessions over real SQLite, in memory and in Redis).

The right login is held between its count and its password check (a gate on the
account lookup) while the guesses are made, so the order is the one under test.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sealbox.accounts import AccountPolicy, Accounts, sessions
from sealbox.accounts.throttle import LocalThrottle
from tests._accounts import run_accounts
from tests.service.conftest import REDIS_PREFIX, REDIS_URL, require_server

PASSWORD = "canary-throttle-password-93d1"
ADDRESS = "192.0.2.9"


def _held(accounts: Accounts, name: str) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold the lookup of ``name`` (once) until released; the first event says it is held."""
    held, release = asyncio.Event(), asyncio.Event()
    read = accounts.store.user_for_login

    async def gated(given: str) -> Any:
        if given == name and not release.is_set():
            held.set()
            await release.wait()
        return await read(given)

    accounts.store.user_for_login = gated  # type: ignore[method-assign]
    return held, release


async def _outcome(accounts: Accounts, name: str, password: str) -> str:
    try:
        await sessions.login(accounts, name, password, ADDRESS, [])
    except sessions.Throttled:
        return "429"
    except sessions.LoginFailed:
        return "wrong"
    return "ok"


@pytest.mark.parametrize("store", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_wrong_guesses_made_while_a_right_password_is_checked_stay_counted(
    tmp_path: Path, store: str
) -> None:
    options: dict[str, Any] = {}
    if store == "redis":
        require_server("Redis", 6379)
        options = {"redis_url": REDIS_URL, "redis_prefix": f"{REDIS_PREFIX}settle-race:"}
    policy = AccountPolicy(throttle_user_attempts=4, throttle_address_attempts=100)

    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "dave", PASSWORD, "198.51.100.1")
        held, release = _held(accounts, "dave")
        right = asyncio.create_task(_outcome(accounts, "dave", PASSWORD))
        await held.wait()  # counted, not yet checked
        during = [await _outcome(accounts, "Dave", f"guess {i}") for i in range(3)]
        release.set()
        assert await right == "ok"
        after = [await _outcome(accounts, "DAVE", f"later {i}") for i in range(4)]
        # The success forgave what was counted up to it, not the 3 guesses after it:
        # 4 wrong guesses in the window, the limit, and not 3 + 4.
        assert during == ["wrong"] * 3
        assert after == ["wrong", "429", "429", "429"]

    run_accounts(tmp_path, scenario, policy, **options)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_success_begun_in_an_ended_window_gives_nothing_back_to_the_next(
    tmp_path: Path,
) -> None:
    policy = AccountPolicy(
        throttle_user_attempts=100, throttle_address_attempts=2, throttle_window=60
    )

    async def scenario(accounts: Accounts) -> None:
        clock = Clock()
        accounts.throttle = LocalThrottle(clock)
        await sessions.register(accounts, "mallory", PASSWORD, "198.51.100.2")
        held, release = _held(accounts, "mallory")
        own = asyncio.create_task(_outcome(accounts, "mallory", PASSWORD))
        await held.wait()  # counted against the address in this window
        clock.now += 61  # the window ends while the password is checked
        guesses = [await _outcome(accounts, f"victim{i}", "guess") for i in range(2)]
        release.set()
        assert await own == "ok"
        # The address used up the new window's 2 attempts; the success's count was in
        # the old one, and giving it back must not make room for a third guess.
        assert guesses == ["wrong", "wrong"]
        assert await _outcome(accounts, "victim9", "guess") == "429"

    run_accounts(tmp_path, scenario, policy)
