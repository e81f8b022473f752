"""passlib's own PBKDF2 hashes verify, upgrade, and are refused precisely when malformed."""

from __future__ import annotations

import base64
import hashlib

import pytest

from sealbox.exceptions import FormatError, PasswordMismatchError
from sealbox.passwords import PasswordHasher

HASHER = PasswordHasher("test")
# The example of passlib's documentation for pbkdf2_sha256, password "password".
PASSLIB_DOC_EXAMPLE = (
    "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"
)


def _ab64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def passlib_pbkdf2(password: str, digest: str, salt: bytes, rounds: int) -> str:
    """A passlib ``$pbkdf2-<digest>$`` hash, computed here from its documented layout."""
    key = hashlib.pbkdf2_hmac(digest, password.encode(), salt, rounds)
    return f"$pbkdf2-{digest}${rounds}${_ab64(salt)}${_ab64(key)}"


def test_the_passlib_documentation_example_verifies_and_asks_for_a_rehash() -> None:
    check = HASHER.verify(PASSLIB_DOC_EXAMPLE, "password")
    assert check.scheme == "passlib_pbkdf2_sha256"
    assert check.needs_rehash is True
    assert HASHER.needs_rehash(PASSLIB_DOC_EXAMPLE) is True
    with pytest.raises(PasswordMismatchError):
        HASHER.verify(PASSLIB_DOC_EXAMPLE, "Password")


@pytest.mark.parametrize("digest", ["sha256", "sha512"])
def test_hashes_made_with_either_digest_verify_and_are_replaced_by_argon2id(digest: str) -> None:
    # Salts whose base64 holds "+" (passlib writes "."), to exercise the adapted alphabet.
    stored = passlib_pbkdf2("s3cret pass", digest, b"\xfb\xef\xbe" * 5, 1000)
    assert "." in stored.split("$")[3]
    assert HASHER.verify(stored, "s3cret pass").scheme == f"passlib_pbkdf2_{digest}"
    new_hash = HASHER.verify_and_update(stored, "s3cret pass")
    assert new_hash is not None and new_hash.startswith("$argon2id$")
    with pytest.raises(PasswordMismatchError):
        HASHER.verify(stored, "s3cret pas")


@pytest.mark.parametrize(
    "bad",
    [
        "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw",  # no hash
        "$pbkdf2-sha256$x$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M",
        "$pbkdf2-sha256$0$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M",
        "$pbkdf2-sha256$6400$0Zrz+XitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M",
        "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4",
        "$pbkdf2-sha512$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M",
    ],
)
def test_a_malformed_passlib_hash_is_a_format_error(bad: str) -> None:
    with pytest.raises(FormatError) as info:
        HASHER.verify(bad, "password")
    assert "pbkdf2-sha" in str(info.value)
    with pytest.raises(FormatError):
        HASHER.needs_rehash(bad)
