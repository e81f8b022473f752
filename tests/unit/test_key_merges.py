"""Saving a keyring or signing keyset over a file another writer changed: merged, or refused."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from sealbox.exceptions import ConcurrentChangeError
from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet
from sealbox.keysets.keyring import Keyring, KeyState
from sealbox.keysets.keyring_file import passphrase_sealer

PASS = "merge passphrase"
CHEAP = kdf.ARGON2ID_TEST


def _saved_ring(path: Path) -> Keyring:
    Keyring.generate().save(path, PASS, kdf_params=CHEAP)
    return Keyring.load(path, PASS)


def test_two_holders_rotating_one_keyring_keep_both_keys_and_the_later_primary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.keyring"
    first, second = _saved_ring(path), Keyring.load(path, PASS)
    a = first.rotate()
    token = first.seal(b"sealed under a")
    first.save(path, PASS, kdf_params=CHEAP)
    b = second.rotate()
    second.save(path, PASS, kdf_params=CHEAP)
    on_disk = Keyring.load(path, PASS)
    assert {a.id, b.id} <= {k.id for k in on_disk}
    assert on_disk.primary_id == b.id
    assert on_disk.open(token) == b"sealed under a"
    assert second.open(token) == b"sealed under a"  # the saving holder now has a too


def test_a_key_destroyed_on_one_side_stays_destroyed(tmp_path: Path) -> None:
    path = tmp_path / "app.keyring"
    ring = _saved_ring(path)
    old = ring.primary_id
    ring.rotate()
    ring.disable(old)
    ring.save(path, PASS, kdf_params=CHEAP)
    cleaner, late = Keyring.load(path, PASS), Keyring.load(path, PASS)
    cleaner.destroy(old)
    cleaner.save(path, PASS, kdf_params=CHEAP)
    late.rotate()
    late.save(path, PASS, kdf_params=CHEAP)
    states = {k.id: k.state for k in Keyring.load(path, PASS)}
    assert states[old] is KeyState.DESTROYED
    assert len(states) == 3


def test_one_key_id_with_two_different_keys_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.keyring"
    held = _saved_ring(path)
    drawn = held.rotate()
    # Another writer drew the same id for a key of its own and saved first.
    doc = json.loads(held.serialize_unencrypted())
    for key in doc["keys"]:
        if key["id"] == drawn.hex_id:
            key["material"] = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    other = Keyring.from_unencrypted(json.dumps(doc).encode())
    other.save(path, PASS, kdf_params=CHEAP, merge=False)
    before = path.read_bytes()
    with pytest.raises(
        ConcurrentChangeError, match=f"different key with the same id {drawn.hex_id}"
    ):
        held.save(path, PASS, kdf_params=CHEAP)
    assert path.read_bytes() == before


def test_saving_over_another_keyring_that_cannot_be_opened_says_so(tmp_path: Path) -> None:
    path = tmp_path / "app.keyring"
    Keyring.generate().save(path, "another passphrase", kdf_params=CHEAP)
    before = path.read_bytes()
    with pytest.raises(ConcurrentChangeError, match="holds another keyring and cannot be opened"):
        Keyring.generate().save(path, PASS, kdf_params=CHEAP)
    assert path.read_bytes() == before


def test_a_keyset_kid_with_two_different_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.keyset"
    SigningKeySet.generate("HS256").save(path, PASS, kdf_params=CHEAP)
    held = SigningKeySet.load(path, PASS)
    new = held.rotate()
    doc = json.loads(held.serialize_unencrypted())
    stranger = json.loads(SigningKeySet.generate("HS256").serialize_unencrypted())["keys"][0]
    for key in doc["keys"]:
        if key["kid"] == new.kid:
            key["jwk"] = {**stranger["jwk"], "kid": new.kid}
    SigningKeySet.from_unencrypted(json.dumps(doc).encode()).save(
        path, PASS, kdf_params=CHEAP, merge=False
    )
    before = path.read_bytes()
    with pytest.raises(ConcurrentChangeError, match=f"different key with the same kid {new.kid}"):
        held.save(path, PASS, kdf_params=CHEAP)
    assert path.read_bytes() == before


def test_two_keyset_holders_rotating_keep_both_keys_and_the_later_primary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "signing.keyset"
    SigningKeySet.generate().save(path, PASS, kdf_params=CHEAP)
    first, second = SigningKeySet.load(path, PASS), SigningKeySet.load(path, PASS)
    a, b = first.rotate(), second.rotate()
    first.save(path, PASS, kdf_params=CHEAP)
    second.save(path, PASS, kdf_params=CHEAP)
    assert {a.kid, b.kid} <= {k.kid for k in SigningKeySet.load(path, PASS)}
    assert SigningKeySet.load(path, PASS).primary.kid == b.kid


def test_a_keyring_rotated_by_a_writer_of_the_old_words_merges_into_one_active_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.keyring"
    holder = _saved_ring(path)
    # Another writer, of the older words, rotates and saves: its keys all say "enabled".
    other = Keyring.load(path, PASS)
    theirs = other.rotate()
    doc = json.loads(other.serialize_unencrypted())
    for key in doc["keys"]:
        key["state"] = "enabled"
    path.write_bytes(passphrase_sealer(PASS, kdf_params=CHEAP).seal(json.dumps(doc).encode()))
    ours = holder.rotate()
    holder.save(path, PASS, kdf_params=CHEAP)
    states = {k.id: k.state for k in Keyring.load(path, PASS)}
    assert states[ours.id] is KeyState.ACTIVE
    assert states[theirs.id] is KeyState.DECRYPT_ONLY
    assert list(states.values()).count(KeyState.ACTIVE) == 1
