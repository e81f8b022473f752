"""``sealbox jwt keyset add`` and ``set-primary`` on a keyset FILE, and what ``jwt jwks`` prints.

A staged rotation: the key is published first and signs later, so that verifiers which
cache the JWKS know its kid before the first token carries it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet, decode_unverified

PASS = "keyset passphrase"
ENV = {"SEALBOX_PASSPHRASE": PASS}


@pytest.fixture
def keyset_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.jwt"
    SigningKeySet.generate().save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
    return path


def states(path: Path) -> dict[str, tuple[str, bool]]:
    return {k.kid: (k.state.value, k.primary) for k in SigningKeySet.load(path, PASS)}


def signing_kid(cli, path: Path) -> str:
    r = cli(["jwt", "issue", path, "--sub", "alice"], env=ENV)
    assert r.code == 0, r.stderr
    return str(decode_unverified(r.out.strip()).header["kid"])


def test_add_publishes_a_key_that_verifies_but_does_not_sign(cli, keyset_file: Path) -> None:
    old = SigningKeySet.load(keyset_file, PASS).primary.kid
    r = cli(["jwt", "keyset", "add", keyset_file], env=ENV)
    assert r.code == 0, r.stderr
    (new,) = set(states(keyset_file)) - {old}
    assert r.out == (
        f"added key {new} (EdDSA) to {keyset_file}: published and verifying, "
        "not signing until set-primary\n"
    )
    assert states(keyset_file) == {old: ("active", True), new: ("decrypt-only", False)}
    jwks = json.loads(cli(["jwt", "jwks", keyset_file], env=ENV).out)
    assert [k["kid"] for k in jwks["keys"]] == [old, new]  # the signing key first
    assert signing_kid(cli, keyset_file) == old

    r = cli(["jwt", "keyset", "add", keyset_file, "--type", "ES256", "--json"], env=ENV)
    assert r.code == 0, r.stderr
    record = json.loads(r.out)
    assert (record["type"], record["state"], record["primary"]) == ("ES256", "decrypt-only", False)
    assert states(keyset_file)[record["id"]] == ("decrypt-only", False)


def test_set_primary_makes_the_added_key_sign_and_the_old_one_keep_verifying(
    cli, keyset_file: Path, tmp_path: Path
) -> None:
    old = SigningKeySet.load(keyset_file, PASS).primary.kid
    new = json.loads(cli(["jwt", "keyset", "add", keyset_file, "--json"], env=ENV).out)["id"]
    before = cli(["jwt", "issue", keyset_file, "--sub", "a", "--aud", "api"], env=ENV).out.strip()

    r = cli(["jwt", "keyset", "set-primary", keyset_file, "--", new], env=ENV)
    assert r.code == 0, r.stderr
    assert (
        r.stderr == f"key {new} (EdDSA) now signs for {keyset_file}; 1 older key still verifies\n"
    )
    assert states(keyset_file) == {old: ("decrypt-only", False), new: ("active", True)}
    assert signing_kid(cli, keyset_file) == new
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(cli(["jwt", "jwks", keyset_file], env=ENV).stdout)
    assert [k["kid"] for k in json.loads(jwks.read_text())["keys"]] == [new, old]
    verified = cli(["jwt", "verify", "--jwks", jwks, "--aud", "api", "-"], input=before.encode())
    assert verified.code == 0, verified.stderr

    # Made primary twice: said so, and the file is not written again.
    saved = keyset_file.read_bytes()
    r = cli(["jwt", "keyset", "set-primary", keyset_file, "--", new], env=ENV)
    assert r.code == 0, r.stderr
    assert r.stderr == f"key {new} is already the primary key of {keyset_file}\n"
    assert keyset_file.read_bytes() == saved


def test_set_primary_rolls_a_rotation_back_to_the_older_key(cli, keyset_file: Path) -> None:
    old = SigningKeySet.load(keyset_file, PASS).primary.kid
    assert cli(["jwt", "keyset", "rotate", keyset_file], env=ENV).code == 0
    r = cli(["jwt", "keyset", "set-primary", keyset_file, "--", old], env=ENV)
    assert r.code == 0, r.stderr
    assert signing_kid(cli, keyset_file) == old


@pytest.mark.parametrize(
    ("make", "message", "hint"),
    [
        (
            None,
            "no key {kid} in keyset {file}",
            "'sealbox jwt keyset list {file}' shows its keys",
        ),
        (
            "disable",
            "key {kid} of keyset {file} is disabled; only a decrypt-only key can become primary",
            "enable it first: sealbox jwt keyset enable {file} -- {kid}",
        ),
        (
            "destroy",
            "key {kid} of keyset {file} is destroyed; only a decrypt-only key can become primary",
            (
                "a destroyed key is gone for good; publish a fresh one with 'sealbox jwt "
                "keyset add {file}' and make it primary later"
            ),
        ),
    ],
)
def test_set_primary_refuses_an_unknown_disabled_or_destroyed_key_with_a_hint(
    cli, keyset_file: Path, make: str | None, message: str, hint: str
) -> None:
    kid = "no-such-kid"
    if make is not None:
        keys = SigningKeySet.load(keyset_file, PASS)
        kid = keys.add_key().kid
        getattr(keys, make)(kid)
        keys.save(keyset_file, PASS, kdf_params=kdf.ARGON2ID_TEST)
    before = keyset_file.read_bytes()
    r = cli(["jwt", "keyset", "set-primary", keyset_file, "--", kid], env=ENV)
    assert r.code == 1
    assert r.stderr.splitlines() == [
        "sealbox: error: " + message.format(kid=kid, file=keyset_file),
        "sealbox: hint: " + hint.format(kid=kid, file=keyset_file),
    ]
    assert keyset_file.read_bytes() == before


def test_set_primary_says_so_when_another_writers_newer_key_became_primary(
    cli, keyset_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer rotates the file between this command's load and its save, with a
    # key made later: the merge keeps that key primary, and the command must not claim
    # that the key it was given signs.
    staged = SigningKeySet.load(keyset_file, PASS)
    kid = staged.add_key().kid
    staged.save(keyset_file, PASS, kdf_params=kdf.ARGON2ID_TEST)
    set_primary = SigningKeySet.set_primary
    theirs = []

    def racing_set_primary(self: SigningKeySet, kid: str) -> None:
        set_primary(self, kid)
        other = SigningKeySet.load(keyset_file, PASS)
        newer = other.add_key(now=datetime.now(UTC) + timedelta(minutes=1)).kid
        set_primary(other, newer)  # the rotation, without this patch
        theirs.append(newer)
        other.save(keyset_file, PASS, kdf_params=kdf.ARGON2ID_TEST)

    monkeypatch.setattr(SigningKeySet, "set_primary", racing_set_primary)
    r = cli(["jwt", "keyset", "set-primary", keyset_file, "--", kid], env=ENV)
    assert r.code == 1
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: keyset {keyset_file}: another writer made key {theirs[0]} "
            f"primary at the same time, so {kid} stays decrypt-only"
        ),
        "sealbox: hint: run the command again if it should still be primary",
    ]
    assert states(keyset_file)[kid] == ("decrypt-only", False)


def private_values(document: bytes) -> set[str]:
    """Every private member of every key of a keyset document (the canaries)."""
    found = set()
    for key in json.loads(document)["keys"]:
        jwk = key["jwk"] or {}
        found |= {str(jwk[m]) for m in ("d", "p", "q", "dp", "dq", "qi", "k") if m in jwk}
    return found


def test_jwks_of_a_file_prints_no_private_material(cli, keyset_file: Path) -> None:
    for alg in ("ES256", "RS256", "HS256"):
        assert cli(["jwt", "keyset", "add", keyset_file, "--type", alg], env=ENV).code == 0
    keys = SigningKeySet.load(keyset_file, PASS)
    canaries = private_values(keys.serialize_unencrypted())
    assert len(canaries) == 1 + 1 + 6 + 1  # EdDSA d, ES256 d, RSA's six, the HMAC secret
    r = cli(["jwt", "jwks", keyset_file], env=ENV)
    assert r.code == 0, r.stderr
    printed = r.out + r.stderr
    assert [c for c in canaries if c in printed] == []
    published = json.loads(r.out)["keys"]
    assert [k["kty"] for k in published] == ["OKP", "EC", "RSA"]  # never the HMAC key
    assert all(set(k).isdisjoint({"d", "p", "q", "dp", "dq", "qi", "k"}) for k in published)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "missing FILE, or --data-dir DIR for the service's keyset"),
        (["keys.jwt", "--data-dir", "."], "give FILE, or --data-dir DIR"),
        (["--data-dir", ".", "--passphrase-file", "pw"], "--passphrase-file is for a keyset FILE"),
    ],
)
def test_jwks_takes_a_file_or_the_service_keyset_exactly_one(
    cli, args: list[str], message: str
) -> None:
    r = cli(["jwt", "jwks", *args])
    assert r.code == 2
    assert r.stderr.startswith(f"sealbox: error: {message}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add"], "missing FILE, or --data-dir DIR for the service's keyset"),
        (["add", "keys.jwt", "--data-dir", "."], "give FILE, or --data-dir DIR"),
        (["set-primary", "keys.jwt"], "missing argument 'KEY_ID'"),
        (
            ["set-primary", "keys.jwt", "--data-dir", ".", "--", "kid"],
            "got two arguments, keys.jwt and kid: with --data-dir DIR, KEY_ID comes alone",
        ),
    ],
)
def test_the_staged_commands_take_a_file_or_the_service_keyset_exactly_one(
    cli, args: list[str], message: str
) -> None:
    r = cli(["jwt", "keyset", *args])
    assert r.code == 2
    assert r.stderr.startswith(f"sealbox: error: {message}")
