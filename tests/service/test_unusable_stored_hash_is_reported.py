"""A stored password hash that cannot be checked (above the cost ceiling, malformed, of a
scheme sealbox does not verify) refuses the login exactly as a wrong password does, and
tells the operator why: the audit record of the failed login names the scheme and the
problem (never the hash), and one warning log line names the account id. Real service over
HTTPS; the hashes are planted through the library's store, as an older import left them."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from sealbox.accounts.store import Store
from sealbox.service.db import make_engine, sessionmaker
from tests.service.conftest import Running, login, register

COSTLY = "$argon2id$v=19$m=2097152,t=16,p=16$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
MALFORMED = "$argon2id$v=19$m=65536,t=3,p=4$!!notbase64!!$" + "A" * 43
UNSUPPORTED = "$6$rounds=5000$saltsalt$" + "h" * 86


def plant(service: Running, username: str, password_hash: str) -> int:
    async def create() -> int:
        engine = make_engine(service.settings.resolved_database_url())
        try:
            user = await Store(sessionmaker(engine), refresh_ttl=60).create_user(
                username, password_hash, ["users:me"]
            )
            return user.id
        finally:
            await engine.dispose()

    return asyncio.run(create())


def login_failures(service: Running, username: str) -> list[dict[str, object]]:
    records = [json.loads(line) for line in service.audit().splitlines()]
    return [
        r
        for r in records
        if r["event"] == "login" and r["outcome"] == "failure" and r["user"] == username
    ]


@pytest.mark.parametrize(
    ("stored", "scheme", "code"),
    [
        (COSTLY, "argon2id", "hash_too_costly"),
        (MALFORMED, "argon2id", "bad_format"),
        (UNSUPPORTED, "$6$", "unsupported_algorithm"),
    ],
)
def test_a_login_against_an_unusable_stored_hash_is_answered_as_a_wrong_password_and_reported(
    service: Running, caplog: pytest.LogCaptureFixture, stored: str, scheme: str, code: str
) -> None:
    with service.client() as c:
        assert register(c, "known").status_code == 201
        wrong = login(c, "known", "a wrong password")
        account_id = plant(service, "planted", stored)
        with caplog.at_level(logging.WARNING, logger="sealbox"):
            r = login(c, "planted", "a wrong password")
    # The client learns nothing: status and body as for a wrong password.
    assert (r.status_code, r.json()) == (wrong.status_code, wrong.json())
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # The operator does: the failed login's audit record says why, without the hash.
    [failure] = login_failures(service, "planted")
    detail = str(failure["detail"])
    assert detail.startswith("stored hash unusable"), failure
    assert scheme in detail and code in detail
    assert stored not in service.audit()
    [plain] = login_failures(service, "known")
    assert "detail" not in plain
    # And one warning log line names the account and the problem.
    lines = [
        rec.getMessage()
        for rec in caplog.records
        if rec.levelno == logging.WARNING and "stored password hash" in rec.getMessage()
    ]
    assert len(lines) == 1, lines
    assert f"account {account_id}" in lines[0] and code in lines[0]
    assert stored not in lines[0]
