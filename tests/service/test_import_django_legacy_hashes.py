"""``POST /users/import`` over real HTTPS: Django's ``pbkdf2_sha1``, ``bcrypt_sha256`` and
plain ``bcrypt`` accounts log in and are upgraded to Argon2id; a hash that would make every login attempt
cost more than sealbox's strongest profile is refused on its own line."""

from __future__ import annotations

from tests.conftest import require_module
from tests.service.conftest import Running, login
from tests.service.test_account_admin import _admin_token, stored_hash
from tests.unit.test_passwords_django import django_bcrypt, django_bcrypt_sha256, django_pbkdf2

COSTLY = "$argon2id$v=19$m=2097152,t=16,p=16$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43


def test_imported_django_pbkdf2_sha1_bcrypt_sha256_and_bcrypt_log_in_and_are_upgraded(
    service: Running,
) -> None:
    require_module("bcrypt")
    users = [
        {"username": "sha1user", "password_hash": django_pbkdf2("sha1-password-1", "sha1")},
        {"username": "bcuser", "password_hash": django_bcrypt_sha256("bcrypt-sha256-pass-1")},
        {"username": "plainbc", "password_hash": django_bcrypt("plain-bcrypt-pass-1")},
    ]
    with service.client() as c:
        admin = _admin_token(service, c)
        r = c.post("/users/import", json={"users": users}, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json() == {"imported": ["sha1user", "bcuser", "plainbc"], "refused": []}
        for name, password in (
            ("sha1user", "sha1-password-1"),
            ("bcuser", "bcrypt-sha256-pass-1"),
            ("plainbc", "plain-bcrypt-pass-1"),
        ):
            assert login(c, name, "wrong password").status_code == 400
            assert login(c, name, password).status_code == 200, name
            assert stored_hash(service.settings, name).startswith("$argon2id$v=19$"), name
            assert login(c, name, password).status_code == 200


def test_an_imported_argon2_hash_above_the_combined_work_ceiling_is_refused_on_its_line(
    service: Running,
) -> None:
    users = [
        {"username": "fine", "password_hash": django_pbkdf2("fine-password-1")},
        {"username": "planted", "password_hash": COSTLY},
    ]
    with service.client() as c:
        admin = _admin_token(service, c)
        r = c.post("/users/import", json={"users": users}, headers=admin)
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["error"] == "import_refused"
        [refused] = body["refused"]
        assert (refused["line"], refused["username"]) == (2, "planted")
        assert "above the accepted maximum" in refused["reason"]
        assert COSTLY not in r.text


def test_a_login_against_a_stored_hash_above_the_ceiling_is_refused_as_a_failed_login(
    service: Running,
) -> None:
    # A hash stored before the ceiling (an earlier import): the login is refused before
    # any work, answered as a wrong password (never a 500), and the hash is left as it is.
    import asyncio

    from sealbox.accounts.store import Store
    from sealbox.service.db import make_engine, sessionmaker

    async def plant() -> None:
        engine = make_engine(service.settings.resolved_database_url())
        try:
            await Store(sessionmaker(engine), refresh_ttl=60).create_user(
                "planted", COSTLY, ["users:me"]
            )
        finally:
            await engine.dispose()

    with service.client() as c:
        asyncio.run(plant())
        r = login(c, "planted", "any password")
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_grant"
    assert stored_hash(service.settings, "planted") == COSTLY
