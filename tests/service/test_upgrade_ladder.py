"""An upgrade from every older revision to the newest, on SQLite and on PostgreSQL: a
database filled at revision R (with plain SQL, as that revision's schema was) keeps every
account, scope, refresh family, revoked token, transit key, KV secret, OAuth client and
TOTP factor through :func:`~sealbox.accounts.database.migrate`, and each still works
through sealbox's own API. Upgrading twice, or from two processes at once, is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from sealbox.accounts import Accounts, make_engine, migrate, sessions
from sealbox.accounts.admin import AccountAdmin
from sealbox.accounts.clients import hash_client_secret
from sealbox.accounts.database import current_revision, newest_revision, sessionmaker
from sealbox.accounts.store import hash_refresh_token
from sealbox.accounts.totp import TotpError, TotpSecretSealer, hash_recovery_code, totp
from sealbox.jwt import SigningKeySet
from sealbox.keysets.key_sealer import KeySealer
from sealbox.passwords import PasswordHasher
from sealbox.service.db import MIGRATIONS
from sealbox.service.transit_store import TransitStore
from sealbox.service.vault.kv_store import VALUE_FORMAT, KVStore
from sealbox.transit.keys import TransitKey
from sealbox.transit.material import seal_material
from sealbox.transit.registry import new_material
from tests.service.conftest import PASSWORD, private_shared_state, require_server

NEWEST = newest_revision()
OLDER = [f"{n:04d}" for n in range(1, int(NEWEST))]
MASTER = bytes(range(32))
ADDRESS = "192.0.2.7"
USER, TOTP_USER = "old-alice", "old-tom"
SCOPES = ["kv:read", "users:me"]
OLD_REFRESH = "sbr_" + "a" * 43
CLIENT_REFRESH = "sbr_" + "c" * 43
CLIENT_ID, CLIENT_SECRET = "sbc_beforeTheLadder01", "sbs_" + "l" * 43
REVOKED_JTI = "jti-revoked-before-the-upgrade"
KEY_NAME, KEY_TYPE = "old-key", "aes256-gcm"
KV_MOUNT, KV_PATH, KV_DATA = "secret", "app/db", {"password": "kv-before-upgrade"}
TOTP_KEY = b"t" * 20
RECOVERY = "abcd-efgh-ijkl"
WHEN = "'2026-01-01 00:00:00+00:00'"
FAR = "'2999-01-01 00:00:00+00:00'"


def _at_least(revision: str, wanted: str) -> bool:
    return int(revision) >= int(wanted)


def _fill(connection: Any, revision: str) -> dict[str, str]:
    """Rows of every table there is at ``revision``, as its schema was; what was made
    outside the database (a transit ciphertext) is returned."""
    run = connection.execute
    hasher = PasswordHasher("test")
    extra = ""
    if _at_least(revision, "0005"):
        extra = ", disabled"
    for name in (USER, TOTP_USER):
        run(
            text(
                "INSERT INTO users (username, password_hash, scopes, created_at, "
                f"session_version{extra}) VALUES (:u, :h, :s, {WHEN}, 0"
                f"{', false' if extra else ''})"
            ),
            {"u": name, "h": hasher.hash(PASSWORD), "s": json.dumps(SCOPES)},
        )
    family = ["token_hash", "family_id", "user_id", "created_at", "expires_at"]
    values = [":t", "'old-family'", f"(SELECT id FROM users WHERE username = '{USER}')"]
    # Begun now: a family begun long ago has outlived its absolute lifetime.
    values += ["CURRENT_TIMESTAMP", FAR]
    if _at_least(revision, "0003"):
        family.append("scope")
        values.append("'users:me kv:read'")
    run(
        text(f"INSERT INTO refresh_tokens ({', '.join(family)}) VALUES ({', '.join(values)})"),
        {"t": hash_refresh_token(OLD_REFRESH)},
    )
    run(
        text(f"INSERT INTO revoked_tokens (jti, expires_at) VALUES (:j, {FAR})"),
        {"j": REVOKED_JTI},
    )
    made: dict[str, str] = {}
    if _at_least(revision, "0002"):
        made["ciphertext"] = _transit_key(connection)
    if _at_least(revision, "0006"):
        _kv_secret(connection)
    if _at_least(revision, "0007"):
        run(
            text(
                "INSERT INTO oauth_clients (client_id, name, scopes, secret_hash, created_at, "
                f"secret_rotated_at) VALUES (:c, 'old-robot', :s, :h, {WHEN}, {WHEN})"
            ),
            {"c": CLIENT_ID, "s": json.dumps(["users:me"]), "h": hash_client_secret(CLIENT_SECRET)},
        )
    if _at_least(revision, "0008"):
        _totp(connection)
    if _at_least(revision, "0009"):
        run(
            text(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, "
                "expires_at, scope, client_id) SELECT :t, 'client-family', id, "
                f"CURRENT_TIMESTAMP, {FAR}, 'users:me', :c FROM users WHERE username = :u"
            ),
            {"t": hash_refresh_token(CLIENT_REFRESH), "c": CLIENT_ID, "u": USER},
        )
    return made


def _transit_key(connection: Any) -> str:
    material = new_material(KEY_TYPE)
    connection.execute(
        text(
            "INSERT INTO transit_keys (name, type, latest_version, min_decryption_version, "
            "min_encryption_version, deletion_allowed, exportable, created_at, updated_at) "
            f"VALUES (:n, :t, 1, 1, 0, false, false, {WHEN}, {WHEN})"
        ),
        {"n": KEY_NAME, "t": KEY_TYPE},
    )
    connection.execute(
        text(
            "INSERT INTO transit_key_versions (key_id, version, created_at, material) "
            f"SELECT id, 1, {WHEN}, :m FROM transit_keys WHERE name = :n"
        ),
        {"n": KEY_NAME, "m": seal_material(MASTER, KEY_NAME, KEY_TYPE, 1, material)},
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    record = SimpleNamespace(
        name=KEY_NAME,
        type=KEY_TYPE,
        latest_version=1,
        min_decryption_version=1,
        min_encryption_version=0,
        deletion_allowed=False,
        exportable=False,
        created_at=at,
        updated_at=at,
    )
    ciphertext, _ = TransitKey.build(record, {1: (at, material)}).encrypt(b"made before")
    return ciphertext


def _kv_secret(connection: Any) -> None:
    connection.execute(
        text(
            "INSERT INTO kv_secrets (mount, path, current_version, oldest_version, "
            "max_versions, cas_required, custom_metadata, created_at, updated_at) "
            f"VALUES (:m, :p, 1, 0, 0, false, :c, {WHEN}, {WHEN})"
        ),
        {"m": KV_MOUNT, "p": KV_PATH, "c": json.dumps({"team": "payments"})},
    )
    sealer = KeySealer(
        MASTER, f"{VALUE_FORMAT}:{KV_MOUNT}:1:{KV_PATH}", what="KV secret", key_name="master key"
    )
    connection.execute(
        text(
            "INSERT INTO kv_versions (secret_id, version, created_at, destroyed, value) "
            f"SELECT id, 1, {WHEN}, false, :v FROM kv_secrets WHERE mount = :m AND path = :p"
        ),
        {"m": KV_MOUNT, "p": KV_PATH, "v": sealer.seal(json.dumps(KV_DATA).encode())},
    )


def _totp(connection: Any) -> None:
    user_id = connection.execute(
        text("SELECT id FROM users WHERE username = :u"), {"u": TOTP_USER}
    ).scalar_one()
    connection.execute(
        text(
            "INSERT INTO user_totp (user_id, secret_sealed, state, last_step, created_at, "
            f"confirmed_at) VALUES (:i, :s, 'confirmed', -1, {WHEN}, {WHEN})"
        ),
        {"i": user_id, "s": TotpSecretSealer(MASTER).seal(user_id, TOTP_KEY)},
    )
    connection.execute(
        text("INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES (:i, :h)"),
        {"i": user_id, "h": hash_recovery_code(RECOVERY)},
    )


def _database_at(url: str, revision: str) -> dict[str, str]:
    """The database at ``url`` migrated to ``revision`` by Alembic and filled."""
    from alembic import command
    from alembic.config import Config

    made: dict[str, str] = {}

    def upgrade(connection: Any) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        made.update(_fill(connection, revision))

    async def run() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
        await engine.dispose()

    asyncio.run(run())
    return made


@contextlib.contextmanager
def _database(backend: str, tmp_path: Path, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'sealbox.db'}"
        return
    require_server("PostgreSQL", 5432)
    with private_shared_state(f"{name}_{tmp_path.name[-8:]}".lower()) as shared:
        yield str(shared["database_url"])


async def _upgraded_and_checked(url: str, revision: str, made: dict[str, str]) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
        await migrate(engine)  # a second start finds the newest and changes nothing
        async with engine.connect() as conn:
            assert await conn.run_sync(current_revision) == NEWEST
            counts = {
                table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                for table in ("users", "refresh_tokens", "revoked_tokens")
            }
        families = 2 if _at_least(revision, "0009") else 1
        assert counts == {"users": 2, "refresh_tokens": families, "revoked_tokens": 1}
        accounts = await Accounts.open(
            engine,
            SigningKeySet.generate("EdDSA"),
            password_profile="test",
            totp_sealer=TotpSecretSealer(MASTER),
        )
        try:
            await _check_accounts(accounts, revision)
            await _check_stores(engine, accounts, revision, made)
        finally:
            await accounts.close()
    finally:
        await engine.dispose()


async def _check_accounts(accounts: Accounts, revision: str) -> None:
    admin = AccountAdmin(
        accounts.store, accounts.revocations, accounts.hasher, access_token_ttl=900
    )
    info = await admin.show(USER)
    assert sorted(info.scopes) == SCOPES and not info.disabled
    issued = await sessions.login(accounts, USER, PASSWORD, ADDRESS, [])
    assert sorted(issued.scope) == SCOPES
    caller = await accounts.authenticate(issued.access_token)
    assert caller.username == USER and caller.scopes == frozenset(SCOPES)
    # A refresh token from before the upgrade refreshes, with the scope it was granted
    # (every scope of the account when it was issued before 0003 recorded one).
    renewed = await sessions.refresh(accounts, OLD_REFRESH, ADDRESS)
    assert sorted(renewed.scope) == SCOPES and renewed.user.username == USER
    assert sorted((await sessions.refresh(accounts, renewed.refresh_token, ADDRESS)).scope)
    assert REVOKED_JTI in await accounts.store.revoked_jtis()
    if _at_least(revision, "0008"):
        # The second factor confirmed before the upgrade is still asked for, and answered.
        with pytest.raises(TotpError, match="second factor is required"):
            await sessions.login(accounts, TOTP_USER, PASSWORD, ADDRESS, [])
        code = totp(TOTP_KEY, time.time())
        await sessions.login(accounts, TOTP_USER, PASSWORD, ADDRESS, [], otp=code)
        await sessions.login(accounts, TOTP_USER, PASSWORD, ADDRESS, [], otp=RECOVERY)
    else:
        await sessions.login(accounts, TOTP_USER, PASSWORD, ADDRESS, [])
    if _at_least(revision, "0009"):
        bound = await sessions.refresh(accounts, CLIENT_REFRESH, ADDRESS, client_id=CLIENT_ID)
        assert bound.scope == ("users:me",)


async def _check_stores(
    engine: Any, accounts: Accounts, revision: str, made: dict[str, str]
) -> None:
    factory = sessionmaker(engine)
    if _at_least(revision, "0002"):
        transit = TransitStore(factory, MASTER)
        key = await transit.get(KEY_NAME)
        assert key.decrypt(made["ciphertext"]) == b"made before"
        assert key.decrypt(key.encrypt(b"made after")[0]) == b"made after"
    else:
        assert await TransitStore(factory, MASTER).names() == []
    if _at_least(revision, "0006"):
        kv = KVStore(factory, MASTER)
        assert (await kv.read(KV_MOUNT, KV_PATH)).data == KV_DATA
        metadata = await kv.metadata(KV_MOUNT, KV_PATH)
        assert metadata["custom_metadata"] == {"team": "payments"}
        assert metadata["current_version"] == 1
    assert accounts.clients is not None
    client = await accounts.clients.authenticate_secret(CLIENT_ID, CLIENT_SECRET)
    if _at_least(revision, "0007"):
        assert client is not None and client.name == "old-robot" and not client.disabled
        assert list(client.scopes) == ["users:me"]
    else:
        assert client is None


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("revision", OLDER)
def test_an_upgrade_from_each_older_revision_keeps_every_item_working(
    tmp_path: Path, backend: str, revision: str
) -> None:
    with _database(backend, tmp_path, f"ladder_{revision}") as url:
        made = _database_at(url, revision)
        asyncio.run(_upgraded_and_checked(url, revision, made))


# -- two processes upgrading at once ------------------------------------------------------

_RACER = """
import asyncio, logging, os, sys, time
from pathlib import Path
from sealbox.accounts import make_engine, migrate

ran = []
class Seen(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("Running upgrade"):
            ran.append(record.getMessage())
logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
logging.getLogger("alembic.runtime.migration").addHandler(Seen())

async def main():
    engine = make_engine(sys.argv[1])
    Path(sys.argv[2]).touch()
    while not Path(sys.argv[3]).exists():
        await asyncio.sleep(0.01)
    await migrate(engine)
    await engine.dispose()

asyncio.run(main())
print(len(ran))
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_processes_upgrading_at_once_upgrade_once(tmp_path: Path, backend: str) -> None:
    with _database(backend, tmp_path, "ladder_race") as url:
        made = _database_at(url, "0001")
        go = tmp_path / "go"
        ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", _RACER, url, str(r), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
            for r in ready
        ]
        try:
            while not all(r.exists() for r in ready):
                assert all(p.poll() is None for p in racers), [p.communicate() for p in racers]
                time.sleep(0.01)
            go.touch()
            outcomes = [p.communicate(timeout=120) for p in racers]
        finally:
            for p in racers:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for p, (_, err) in zip(racers, outcomes, strict=True):
            assert p.returncode == 0, err.decode()
            assert b"Traceback" not in err, err.decode()
        # One applied every migration after 0001; the other found the newest.
        steps = sorted(int(out) for out, _ in outcomes)
        assert steps == [0, int(NEWEST) - 1]
        asyncio.run(_upgraded_and_checked(url, "0001", made))


def test_rows_whose_account_was_gone_before_the_upgrade_do_not_stop_it(tmp_path: Path) -> None:
    """SQLite checks foreign keys at the end of an upgrade: a refresh row left without its
    account by an older tool (keys not enforced) is no change of the upgrade's, and stays."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sealbox.db'}"
    _database_at(url, "0002")

    async def orphan() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.execute(
                text(
                    "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, "
                    f"expires_at) VALUES (:t, 'orphan', 999, {WHEN}, {FAR})"
                ),
                {"t": hash_refresh_token("sbr_" + "z" * 43)},
            )
        await engine.dispose()

    asyncio.run(orphan())
    asyncio.run(_upgraded_and_checked_with(url, families=2))


async def _upgraded_and_checked_with(url: str, *, families: int) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(current_revision) == NEWEST
            count = await conn.execute(text("SELECT count(*) FROM refresh_tokens"))
            assert count.scalar_one() == families
    finally:
        await engine.dispose()
