"""TOTP enrolment asks for the account's password again; when the account's stored hash
cannot be checked (above the cost ceiling, malformed, a scheme not verified) the refusal
is a wrong password's (403 ``invalid_credentials``), and the ``totp.enrol`` failure record
says why, as a failed login's does (``stored hash unusable: SCHEME (CODE)``), never the
hash. Real service over HTTPS; the hash is planted through the library's store under a
logged-in account, as an older import left it."""

from __future__ import annotations

import asyncio
import json

import pytest

from sealbox.accounts.store import Store
from sealbox.service.db import make_engine, sessionmaker
from tests.service.conftest import Running, bearer, login, register
from tests.service.test_unusable_stored_hash_is_reported import COSTLY, MALFORMED, UNSUPPORTED


def replace_hash(service: Running, username: str, password_hash: str) -> None:
    async def replace() -> None:
        engine = make_engine(service.settings.resolved_database_url())
        try:
            store = Store(sessionmaker(engine), refresh_ttl=60)
            user = await store.user_by_name(username)
            assert user is not None
            # As a rehash writes it: the account's sessions stay valid.
            assert await store.set_password_hash(user.id, password_hash)
        finally:
            await engine.dispose()

    asyncio.run(replace())


def enrol_records(service: Running, username: str) -> list[dict[str, object]]:
    records = [json.loads(line) for line in service.audit().splitlines()]
    return [r for r in records if r["event"] == "totp.enrol" and r["user"] == username]


@pytest.mark.parametrize(
    ("stored", "scheme", "code"),
    [
        (COSTLY, "argon2id", "hash_too_costly"),
        (MALFORMED, "argon2id", "bad_format"),
        (UNSUPPORTED, "$6$", "unsupported_algorithm"),
    ],
)
def test_a_totp_enrolment_against_an_unusable_stored_hash_is_refused_and_its_record_says_why(
    service: Running, stored: str, scheme: str, code: str
) -> None:
    with service.client() as c:
        assert register(c, "planted").status_code == 201
        token = login(c, "planted").json()["access_token"]
        replace_hash(service, "planted", stored)
        r = c.post("/auth/totp", json={"password": "a wrong password"}, headers=bearer(token))
        assert register(c, "known").status_code == 201
        known = login(c, "known").json()["access_token"]
        wrong = c.post("/auth/totp", json={"password": "a wrong password"}, headers=bearer(known))
    # The client learns nothing: as for a wrong password.
    assert (r.status_code, r.json()) == (wrong.status_code, wrong.json())
    assert r.status_code == 403 and r.json()["error"] == "invalid_credentials"
    [failure] = enrol_records(service, "planted")
    assert failure["outcome"] == "failure"
    assert failure["detail"] == f"stored hash unusable: {scheme} ({code})", failure
    assert stored not in service.audit()
    [plain] = enrol_records(service, "known")
    assert plain["outcome"] == "failure" and "detail" not in plain
