"""``sealbox users import`` of a Flask app's accounts: Werkzeug's
``generate_password_hash`` forms sealbox does not verify (PBKDF2 over another digest than
SHA-256, SHA-512 or SHA-1) are refused naming their scheme, not as text that is no hash;
and a Werkzeug hash given as the username is not quoted. (The forms it verifies:
test_import_werkzeug.py.)"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sealbox.exceptions import UnsupportedAlgorithmError
from sealbox.passwords import PasswordHasher, hash_scheme

SALT = "Zq8dQ1vXh2LamL5W"


def werkzeug_pbkdf2(password: str, digest: str = "sha256", iterations: int = 600_000) -> str:
    """A Werkzeug pbkdf2 hash, computed here the way Werkzeug computes it."""
    key = hashlib.pbkdf2_hmac(digest, password.encode(), SALT.encode(), iterations)
    return f"pbkdf2:{digest}:{iterations}${SALT}${key.hex()}"


def werkzeug_scrypt(password: str) -> str:
    """Werkzeug's default since 3.0: scrypt, n=2**15, r=8, p=1, hex."""
    key = hashlib.scrypt(password.encode(), salt=SALT.encode(), n=2**15, r=8, p=1, maxmem=2**27)
    return f"scrypt:32768:8:1${SALT}${key.hex()}"


WERKZEUG = [
    (werkzeug_pbkdf2("flask-pw-1", "sha384", 1000), "pbkdf2:sha384"),
    (werkzeug_pbkdf2("flask-pw-2", "sha224", 1000), "pbkdf2:sha224"),
]


@pytest.mark.parametrize(("stored", "scheme"), WERKZEUG)
def test_a_werkzeug_hash_is_refused_naming_its_scheme(stored: str, scheme: str) -> None:
    hasher = PasswordHasher("test")
    for check in (hasher.needs_rehash, lambda s: hasher.verify(s, "flask-pw-1")):
        with pytest.raises(UnsupportedAlgorithmError) as info:
            check(stored)
        assert info.value.facts == {"scheme": scheme}
        assert f"{scheme!r} (Werkzeug)" in str(info.value)
        assert stored.split("$")[1] not in str(info.value) + str(info.value.hint)
    assert hash_scheme(stored) == scheme


def test_import_of_a_flask_export_names_werkzeug_and_quotes_no_hash(cli, tmp_path: Path) -> None:
    rows = [{"username": f"flask{i}", "password_hash": h} for i, (h, _) in enumerate(WERKZEUG)]
    # Members swapped: the hash where the name belongs is not quoted.
    rows.append({"username": werkzeug_scrypt("flask-pw-5"), "password_hash": "alice"})
    source = tmp_path / "flask.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    r = cli(
        ["users", "import", source, "--json", "--data-dir", tmp_path / "data"],
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert r.code == 1, r.stderr
    refused = json.loads(r.out)["refused"]
    assert [(p["line"], p["name"]) for p in refused] == [(1, "flask0"), (2, "flask1"), (3, None)]
    for p, (_, scheme) in zip(refused, WERKZEUG, strict=False):
        assert f"password hash scheme {scheme!r} (Werkzeug) is not supported" in p["reason"]
    assert "holds a password hash" in refused[2]["reason"]
    for stored in [*(h for h, _ in WERKZEUG), werkzeug_scrypt("flask-pw-5")]:
        assert stored.split("$")[2] not in r.out + r.stderr
        assert SALT not in r.out + r.stderr
