"""Mistakes a user can make through the library raise sealbox errors with a code, never a
bare ValueError (each is still a ValueError for code that caught that)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.exceptions import ConfigError
from sealbox.keys import KeyType, PrivateKey
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider
from sealbox.keysets.envelope import cipher as envelope_cipher
from sealbox.keysets.keyring import Keyring


def test_saving_a_keyring_with_neither_or_both_protections_is_a_config_error(
    tmp_path: Path,
) -> None:
    ring = Keyring.generate()
    with pytest.raises(ConfigError) as info:
        ring.save(tmp_path / "ring")
    assert info.value.code == "keyring_protection_needed"
    assert isinstance(info.value, ValueError)
    assert not (tmp_path / "ring").exists()


def test_deterministic_sealing_of_an_empty_value_is_a_config_error() -> None:
    ring = Keyring.generate()
    with pytest.raises(ConfigError) as info:
        ring.seal_deterministic(b"")
    assert info.value.code == "empty_value"
    assert ring.open(ring.seal_deterministic(b"x")) == b"x"


@pytest.mark.parametrize("fmt", ["pem", "openssh"])
def test_an_empty_passphrase_for_a_private_key_file_is_a_config_error(
    tmp_path: Path, fmt: str
) -> None:
    key = PrivateKey.generate(KeyType.ED25519)
    with pytest.raises(ConfigError) as info:
        key.save(tmp_path / "key", "", format=fmt)  # type: ignore[arg-type]
    assert info.value.code == "empty_passphrase"
    assert not (tmp_path / "key").exists()


def test_an_envelope_value_over_the_limit_is_a_config_error_with_its_size(monkeypatch) -> None:
    monkeypatch.setattr(envelope_cipher, "MAX_SEALED_SIZE", 16)
    cipher = EnvelopeCipher(KeyringProvider(Keyring.generate()))
    with pytest.raises(ConfigError) as info:
        cipher.encrypt(b"x" * 17)
    assert info.value.code == "value_too_large"
    assert info.value.facts == {"size": "17"}
    assert cipher.decrypt(cipher.encrypt(b"x" * 16)) == b"x" * 16


def test_a_negative_pss_salt_length_is_a_config_error() -> None:
    key = PrivateKey.generate(KeyType.RSA, bits=2048)
    signature = key.sign(b"data")
    with pytest.raises(ConfigError) as info:
        key.public_key.verify(signature, b"data", pss_salt_length=-1)
    assert info.value.code == "bad_pss_salt_length"
    key.public_key.verify(signature, b"data", pss_salt_length=32)
