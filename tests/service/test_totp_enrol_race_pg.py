"""A confirmation racing a new enrolment of the same account, on PostgreSQL, through two
stores with pools of their own (two workers): one of them wins, the other is refused,
and a confirmation that answered recovery codes always leaves that factor confirmed.

The outcome that must never be: a confirmation answered (the user believes the second
factor is on, and files the recovery codes) while the racing enrolment replaced the row
with a pending one, so that the password alone logs in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from sealbox.accounts.store import Store
from sealbox.accounts.totp import TotpError, TotpSecretSealer, decode_secret, totp
from sealbox.accounts.totp_store import TotpStore
from sealbox.service.db import make_engine, migrate, sessionmaker
from tests.service.conftest import reset_shared_state, shared_settings

pytestmark = [pytest.mark.postgres]

MASTER = bytes(range(32))
NOW = 1_800_000_010.0
ROUNDS = 25


@pytest.fixture
def database_url() -> Iterator[str]:
    url = str(shared_settings()["database_url"])  # skips (or fails under CI) without it
    reset_shared_state()
    yield url
    reset_shared_state()


def test_a_confirmation_racing_a_new_enrolment_never_answers_codes_for_a_factor_left_off(
    database_url: str,
) -> None:
    async def run() -> list[str]:
        first, second = make_engine(database_url), make_engine(database_url)
        try:
            await migrate(first)
            sealer = TotpSecretSealer(MASTER)
            a = TotpStore(sessionmaker(first), sealer, clock=lambda: NOW)
            b = TotpStore(sessionmaker(second), sealer, clock=lambda: NOW)
            outcomes = []
            for i in range(ROUNDS):
                user = await Store(sessionmaker(first), 3600).create_user(f"u{i}", "x", [])
                key = decode_secret((await a.begin(user.id, user.username)).secret)

                async def confirm(uid: int = user.id, k: bytes = key) -> list[str] | str:
                    try:
                        return await a.confirm(uid, totp(k, NOW))
                    except TotpError as exc:
                        return exc.code

                async def enrol(uid: int = user.id, name: str = user.username) -> str:
                    try:
                        await b.begin(uid, name)
                    except TotpError as exc:
                        return exc.code
                    return "begun"

                confirmed, begun = await asyncio.gather(confirm(), enrol())
                state = await a.state(user.id)
                if isinstance(confirmed, list):
                    assert len(confirmed) == 10
                    assert begun == "totp_already_enabled", begun
                    assert state == "confirmed"
                    # The factor confirmed is the one whose codes were shown: it asks a code.
                    with pytest.raises(TotpError) as asked:
                        await a.check_login(user.id, None)
                    assert asked.value.code == "mfa_required"
                    outcomes.append("confirmed")
                else:
                    assert confirmed in ("totp_code_invalid", "totp_not_pending"), confirmed
                    assert begun == "begun"
                    assert state == "pending"
                    await a.check_login(user.id, None)  # no factor yet: nothing asked
                    outcomes.append("re-enrolled")
            return outcomes
        finally:
            await first.dispose()
            await second.dispose()

    outcomes = asyncio.run(run())
    assert len(outcomes) == ROUNDS
