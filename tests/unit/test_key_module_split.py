"""The key modules split by job: every public name still imports from where it did."""

from __future__ import annotations

import importlib

import pytest

from sealbox.keysets.lifecycle import KeyState

# (old module, name, module that now defines it)
MOVED_NAMES = [
    ("sealbox.keys.asymmetric", "KeyType", "sealbox.keys.kinds"),
    ("sealbox.keys.asymmetric", "RSA_DEFAULT_BITS", "sealbox.keys.kinds"),
    ("sealbox.keys.asymmetric", "RSA_MIN_BITS", "sealbox.keys.kinds"),
    ("sealbox.keys.asymmetric", "RSA_MAX_BITS", "sealbox.keys.kinds"),
    ("sealbox.keys.asymmetric", "MAX_KEY_FILE_SIZE", "sealbox.keys.serialize"),
    ("sealbox.keys.asymmetric", "OPENSSH_BCRYPT_ROUNDS", "sealbox.keys.serialize"),
    ("sealbox.keys.asymmetric", "OPENSSH_BCRYPT_MAX_ROUNDS", "sealbox.keys.serialize"),
    ("sealbox.keys.asymmetric", "PKCS8_SCRYPT", "sealbox.keys.serialize"),
    ("sealbox.keys.asymmetric", "PSS_SALT_LENGTH", "sealbox.keys.sign"),
    ("sealbox.keys.asymmetric", "encrypt_hybrid", "sealbox.keys.encrypt"),
    ("sealbox.keys.asymmetric", "decrypt_hybrid", "sealbox.keys.encrypt"),
    ("sealbox.keys.asymmetric", "oaep_max_plaintext", "sealbox.keys.encrypt"),
    ("sealbox.keys.sshsig", "SSHSignature", "sealbox.keys.sshsig_format"),
    ("sealbox.keys.sshsig", "digest", "sealbox.keys.sshsig_format"),
    ("sealbox.keys.sshsig", "ARMOR_BEGIN", "sealbox.keys.sshsig_format"),
    ("sealbox.keys.sshsig", "MAGIC", "sealbox.keys.sshsig_format"),
    ("sealbox.keys.sshsig", "AllowedSigner", "sealbox.keys.allowed_signers"),
    ("sealbox.keys.sshsig", "AllowedSigners", "sealbox.keys.allowed_signers"),
    ("sealbox.keysets.keyring", "FORMAT", "sealbox.keysets.keyring_file"),
    ("sealbox.keysets.keyring", "SEALED_FORMAT", "sealbox.keysets.keyring_file"),
    ("sealbox.keysets.keyring", "MAX_FILE_SIZE", "sealbox.keysets.keyring_file"),
    ("sealbox.keysets.keyring", "is_age_file", "sealbox.keysets.keyring_file"),
    ("sealbox.keysets.keyring", "KeyState", "sealbox.keysets.lifecycle"),
    ("sealbox.jwt.keyset", "FORMAT", "sealbox.jwt.keyset_file"),
    ("sealbox.jwt.keyset", "SEALED_FORMAT", "sealbox.jwt.keyset_file"),
    ("sealbox.jwt.keyset", "MAX_FILE_SIZE", "sealbox.jwt.keyset_file"),
    ("sealbox.jwt.keyset", "SIGNING_ALGORITHMS", "sealbox.jwt.keyset_file"),
    ("sealbox.jwt.keyset", "DEFAULT_ALGORITHM", "sealbox.jwt.keyset_file"),
    ("sealbox.jwt.keyset", "RSA_KEY_SIZES", "sealbox.jwt.keyset_file"),
    ("sealbox.jwt.keyset", "HMAC_KEY_SIZE", "sealbox.jwt.keyset_file"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED_NAMES)
def test_a_moved_name_is_the_same_object_under_its_old_module(
    old: str, name: str, new: str
) -> None:
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_the_keyring_the_keyset_and_the_package_share_one_state_vocabulary() -> None:
    import sealbox
    from sealbox.jwt import KeyStatus
    from sealbox.keysets.keyring import KeyState as KeyringState

    assert sealbox.KeyState is KeyringState is KeyStatus is KeyState
    assert [s.value for s in KeyState] == ["active", "decrypt-only", "disabled", "destroyed"]


def test_the_split_classes_keep_their_public_methods() -> None:
    from sealbox.jwt import SigningKeySet
    from sealbox.keysets.keyring import Keyring

    for method in ("save", "load", "encrypt", "decrypt", "encrypt_to", "decrypt_with"):
        assert callable(getattr(Keyring, method))
    for method in ("save", "load", "encrypt", "decrypt", "disable", "enable", "destroy", "retire"):
        assert callable(getattr(SigningKeySet, method))
