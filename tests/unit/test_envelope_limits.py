"""Sealed envelopes at AES-GCM's one-call limit (2**31 - 1 bytes, tag included).

The 2 GiB values are private anonymous mappings never written past their first page:
reading them maps the kernel's zero page, so they cost address space, not memory.
"""

from __future__ import annotations

import mmap
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.exceptions import ConfigError, DecryptionError
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider, _sealed, inspect
from sealbox.keysets.envelope.cipher import MAX_SEALED_SIZE
from sealbox.keysets.envelope.format import sealed_associated_data
from sealbox.keysets.keyring import Keyring

ONE_CALL = 2**31 - 1


def zero_pages(size: int) -> mmap.mmap:
    # Unmapped when collected: a view held by a traceback would stop an explicit close.
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)


@pytest.fixture
def cipher() -> EnvelopeCipher:
    return EnvelopeCipher(KeyringProvider(Keyring.generate()))


def test_encrypt_refuses_a_value_whose_sealed_form_would_not_decrypt(cipher) -> None:
    """Ciphertext and tag of the largest value accepted fit one AES-GCM call to open."""
    assert MAX_SEALED_SIZE + 16 == ONE_CALL
    with pytest.raises(ConfigError) as info:
        cipher.encrypt(memoryview(zero_pages(ONE_CALL - 15)))  # type: ignore[arg-type]
    assert info.value.code == "value_too_large"
    assert info.value.facts == {"size": str(ONE_CALL - 15)}
    assert "must be streamed" in str(info.value)


def test_encrypt_refuses_associated_data_too_long_for_one_aes_gcm_call(cipher) -> None:
    with pytest.raises(ConfigError) as info:
        cipher.encrypt(b"v", memoryview(zero_pages(ONE_CALL - 4)))  # type: ignore[arg-type]
    assert info.value.code == "value_too_large"
    assert info.value.facts == {"associated_data_size": str(ONE_CALL - 4)}


def test_a_2_gib_sealed_envelope_is_a_decryption_error_not_an_overflow(cipher) -> None:
    """What earlier builds sealed from a value of 2**31 - 1 bytes (a real header, zero
    data): refused as altered after one pass in constant memory, not an OverflowError."""
    small = cipher.encrypt(b"x")
    header = inspect(small).header_size
    size = header + 12 + ONE_CALL + 16
    pages = zero_pages(size + 1)
    pages[:header] = small[:header]
    with pytest.raises(DecryptionError):
        cipher.decrypt(memoryview(pages)[:size])
    with pytest.raises(DecryptionError):  # longer than anything ever sealed
        cipher.decrypt(memoryview(pages))


@pytest.mark.parametrize("size", [0, 1, 17, 4 * 1024 * 1024 + 3])
def test_the_chunked_opening_of_long_values_matches_one_aes_gcm_call(size) -> None:
    key, nonce = os.urandom(32), os.urandom(12)
    data, ad = os.urandom(size), b"ctx"
    sealed = AESGCM(key).encrypt(nonce, data, sealed_associated_data(ad))
    assert _sealed._open_in_chunks(key, nonce, memoryview(sealed), sealed_associated_data(ad)) == (
        data
    )
    altered = bytearray(sealed)
    altered[-1] ^= 1
    with pytest.raises(DecryptionError):
        _sealed._open_in_chunks(key, nonce, memoryview(altered), sealed_associated_data(ad))
    with pytest.raises(DecryptionError):
        _sealed._open_in_chunks(key, nonce, memoryview(sealed), sealed_associated_data(b"x"))
