"""Accounts opened without a TOTP sealer, on a database where an account confirmed a
second factor (an app beside ``sealbox serve`` on its tables, say): that account's
password alone must not log in. The factor cannot be checked there, so the login is
refused (fail closed); accounts without a confirmed factor log in as before.

Real SQLite, migrated by the service's migrations; the codes come from the library.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from sealbox.accounts import AccountPolicy, Accounts, sessions
from sealbox.accounts.totp import TotpSecretSealer, decode_secret, totp
from sealbox.accounts.totp_store import TotpStore
from sealbox.jwt import SigningKeySet
from sealbox.service.db import make_engine, migrate, sessionmaker

PASSWORD = "correct horse battery"
MASTER = bytes(range(32))


async def _logins(path: Path) -> dict[str, str]:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    accounts = await Accounts.open(
        engine, SigningKeySet.generate("EdDSA"), AccountPolicy(), password_profile="test"
    )
    outcomes: dict[str, str] = {}
    try:
        assert accounts.totp is None
        store = TotpStore(sessionmaker(engine), TotpSecretSealer(MASTER))
        guarded = await sessions.register(accounts, "guarded", PASSWORD, "127.0.0.1")
        pending = await sessions.register(accounts, "pending", PASSWORD, "127.0.0.1")
        await sessions.register(accounts, "plain", PASSWORD, "127.0.0.1")
        enrolment = await store.begin(guarded.id, "guarded")
        key = decode_secret(enrolment.secret)
        await store.confirm(guarded.id, totp(key, store.clock()))
        await store.begin(pending.id, "pending")
        for name, otp in (
            ("guarded", None),
            ("guarded", totp(key, store.clock() + 30)),
            ("pending", None),
            ("plain", None),
        ):
            label = f"{name}{'+otp' if otp else ''}"
            try:
                await sessions.login(accounts, name, PASSWORD, "127.0.0.1", [], otp=otp)
            except sessions.LoginFailed as exc:
                outcomes[label] = exc.code
            else:
                outcomes[label] = "ok"
    finally:
        await accounts.close()
        await engine.dispose()
    return outcomes


def test_a_confirmed_factor_refuses_the_login_where_it_cannot_be_checked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sealbox.accounts"):
        outcomes = asyncio.run(_logins(tmp_path / "accounts.db"))
    assert outcomes == {
        "guarded": "invalid_grant",
        "guarded+otp": "invalid_grant",
        "pending": "ok",
        "plain": "ok",
    }
    # The operator is told why, by account id, never by a secret or a code.
    warnings = [r.getMessage() for r in caplog.records if "second factor" in r.getMessage()]
    assert len(warnings) == 2, warnings
    assert all("guarded" not in w for w in warnings)
