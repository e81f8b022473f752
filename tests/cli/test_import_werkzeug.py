"""``sealbox users import`` of a Flask app's accounts: Werkzeug's PBKDF2 and scrypt hashes
are imported, log in with their password (the password grant on the imported database)
and become Argon2id there; a wrong password leaves them as they were; hashes above the
ceiling or malformed are refused by line, quoting none of them."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from sealbox.accounts import AccountPolicy, Accounts, make_engine, sessions
from sealbox.accounts.sessions import LoginFailed
from sealbox.jwt import SigningKeySet
from tests.unit.test_werkzeug_hashes import (
    PBKDF2_SHA1,
    PBKDF2_SHA256,
    PBKDF2_SHA512,
    SCRYPT_DEFAULT,
    UNICODE_PASSWORD,
    UNICODE_SCRYPT,
)

# Real Werkzeug 3.1.9 hashes (how they were made: tests/unit/test_werkzeug_hashes.py).
FLASK = {
    "ana": (PBKDF2_SHA256, "flask-pw-1"),
    "ben": (PBKDF2_SHA512, "flask-pw-2"),
    "cleo": (PBKDF2_SHA1, "flask-pw-3"),
    "dev": (SCRYPT_DEFAULT, "flask-pw-5"),
    "eli": (UNICODE_SCRYPT, UNICODE_PASSWORD),
}
ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}


def _import(cli, tmp_path: Path, rows: list[dict[str, object]]):
    source = tmp_path / "flask.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return cli(["users", "import", source, "--json", "--data-dir", tmp_path / "data"], env=ENV)


def _stored(tmp_path: Path, name: str) -> str:
    with sqlite3.connect(tmp_path / "data" / "sealbox.db") as db:
        (value,) = db.execute(
            "select password_hash from users where username = ?", (name,)
        ).fetchone()
    return str(value)


def _login(tmp_path: Path, name: str, password: str) -> bool:
    """The password grant on the imported accounts (cheap Argon2): whether it let in."""

    async def go() -> bool:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'sealbox.db'}")
        accounts = await Accounts.open(
            engine, SigningKeySet.generate("EdDSA"), AccountPolicy(), password_profile="test"
        )
        try:
            await sessions.login(accounts, name, password, "127.0.0.1", [])
        except LoginFailed:
            return False
        finally:
            await accounts.close()
            await engine.dispose()
        return True

    return asyncio.run(go())


def test_flask_accounts_import_log_in_and_become_argon2id(cli, tmp_path: Path) -> None:
    rows = [{"username": name, "password_hash": h} for name, (h, _) in FLASK.items()]
    r = _import(cli, tmp_path, rows)
    assert r.code == 0, r.stderr
    assert sorted(json.loads(r.out)["imported"]) == sorted(FLASK)
    for name, (stored, password) in FLASK.items():
        assert _stored(tmp_path, name) == stored
        # A wrong password fails and leaves the imported hash as it was.
        assert not _login(tmp_path, name, password + "-wrong")
        assert _stored(tmp_path, name) == stored
        assert _login(tmp_path, name, password)
        upgraded = _stored(tmp_path, name)
        assert upgraded.startswith("$argon2id$"), name
        assert _login(tmp_path, name, password)  # the Argon2id hash lets in too
        assert _stored(tmp_path, name) == upgraded


def test_the_import_summary_counts_werkzeug_schemes(cli, tmp_path: Path) -> None:
    rows = [{"username": "ana", "password_hash": PBKDF2_SHA256}]
    rows.append({"username": "dev", "password_hash": SCRYPT_DEFAULT})
    source = tmp_path / "flask.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    r = cli(["users", "import", source, "--data-dir", tmp_path / "data"], env=ENV)
    assert r.code == 0, r.stderr
    assert "imported 2 accounts (1 werkzeug_pbkdf2, 1 werkzeug_scrypt)" in r.out


HEX32, HEX64 = "ab" * 32, "ab" * 64
REFUSED = [
    (f"pbkdf2:sha256:10000001$saltsalt${HEX32}", "above the accepted maximum"),
    (f"pbkdf2:sha512:5000001$saltsalt${HEX64}", "above the accepted maximum"),
    (f"scrypt:1048576:8:1$saltsalt${HEX64}", "above the accepted maximum"),
    (f"scrypt:32768:8:128$saltsalt${HEX64}", "above the accepted maximum"),
    (f"scrypt:1000:8:1$saltsalt${HEX64}", "n a power of two"),
    (f"pbkdf2:sha256:1000$saltsalt${HEX32[:-1]}", "lowercase hex"),
    (f"pbkdf2:sha256:1000$saltsalt${HEX32}abab", "must be 32 bytes"),
    (f"scrypt:32768:8:1$saltsalt${HEX32}", "must be 64 bytes"),
    (f"pbkdf2:sha256:1000$${HEX32}", "empty salt"),
    (f"pbkdf2:sha256$saltsalt${HEX32}", "names no iteration count"),
]


@pytest.mark.parametrize("skip", [False, True], ids=["all-or-nothing", "skip-invalid"])
def test_costly_or_malformed_werkzeug_hashes_are_refused_by_line_unquoted(
    cli, tmp_path: Path, skip: bool
) -> None:
    rows = [{"username": f"user{i}", "password_hash": h} for i, (h, _) in enumerate(REFUSED)]
    rows.append({"username": "ana", "password_hash": PBKDF2_SHA256})
    source = tmp_path / "flask.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    args = ["users", "import", source, "--json", "--data-dir", tmp_path / "data"]
    r = cli(args + (["--skip-invalid"] if skip else []), env=ENV)
    assert r.code == (0 if skip else 1), r.stderr
    answer = json.loads(r.out)
    refused = answer["refused"]
    assert [(p["line"], p["name"]) for p in refused] == [
        (i + 1, f"user{i}") for i in range(len(REFUSED))
    ]
    for p, (_, said) in zip(refused, REFUSED, strict=True):
        assert said in p["reason"], p["reason"]
    if skip:
        assert answer["imported"] == ["ana"]
    said = r.out + r.stderr
    assert "saltsalt" not in said and "abab" not in said
    assert PBKDF2_SHA256.split("$")[2] not in said
