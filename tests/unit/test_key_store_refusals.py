"""Saving a keyring or signing keyset whose merge is refused: the refusal says what happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.exceptions import ConcurrentChangeError
from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet
from sealbox.keysets.keyring import Keyring

PASS = "refusal passphrase"
CHEAP = kdf.ARGON2ID_TEST


@pytest.mark.parametrize(
    "content", [b"notes, not a keyring\n", b'{"format": "something-else/1"}\n']
)
def test_saving_a_keyring_over_a_file_that_is_no_keyring_is_a_concurrent_change(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "app.keyring"
    path.write_bytes(content)
    with pytest.raises(ConcurrentChangeError, match="cannot be opened to merge") as info:
        Keyring.generate().save(path, PASS, kdf_params=CHEAP)
    assert info.value.code == "concurrent_change"
    assert path.read_bytes() == content


def test_saving_a_keyring_over_a_signing_keyset_is_a_concurrent_change(tmp_path: Path) -> None:
    path = tmp_path / "signing.keyset"
    SigningKeySet.generate().save(path, PASS, kdf_params=CHEAP)
    before = path.read_bytes()
    with pytest.raises(ConcurrentChangeError, match="holds another keyring"):
        Keyring.generate().save(path, PASS, kdf_params=CHEAP)
    assert path.read_bytes() == before


def test_a_keyset_key_disabled_here_that_another_writer_made_primary_says_who_did_what(
    tmp_path: Path,
) -> None:
    path = tmp_path / "signing.keyset"
    keys = SigningKeySet.generate("HS256")
    old = keys.primary.kid
    keys.rotate()
    keys.save(path, PASS, kdf_params=CHEAP)
    here, there = SigningKeySet.load(path, PASS), SigningKeySet.load(path, PASS)
    there.set_primary(old)
    there.save(path, PASS, kdf_params=CHEAP)
    before = path.read_bytes()
    here.disable(old)
    with pytest.raises(ConcurrentChangeError, match=f"made key {old} primary") as info:
        here.save(path, PASS, kdf_params=CHEAP)
    assert info.value.hint is not None and f"key {old} is primary now" in info.value.hint
    assert info.value.facts["key_id"] == old
    assert info.value.facts["state"] == "disabled"
    assert path.read_bytes() == before


def test_a_keyset_primary_disabled_by_another_writer_says_so(tmp_path: Path) -> None:
    path = tmp_path / "signing.keyset"
    keys = SigningKeySet.generate("HS256")
    old = keys.primary.kid
    keys.rotate()
    keys.save(path, PASS, kdf_params=CHEAP)
    here, there = SigningKeySet.load(path, PASS), SigningKeySet.load(path, PASS)
    there.disable(old)
    there.save(path, PASS, kdf_params=CHEAP)
    here.set_primary(old)
    with pytest.raises(ConcurrentChangeError, match=f"primary key {old} was disabled by another"):
        here.save(path, PASS, kdf_params=CHEAP)
