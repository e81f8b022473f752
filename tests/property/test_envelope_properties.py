"""Invariants of envelopes over generated values: round trips, rewrap, tampering."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from sealbox import age
from sealbox.exceptions import DecryptionError, FormatError, KeyNotFoundError
from sealbox.keysets.envelope import AgeProvider, EnvelopeCipher, KeyringProvider, inspect
from sealbox.keysets.keyring import Keyring

RING = Keyring.generate()
CIPHER = EnvelopeCipher(KeyringProvider(RING))
ME = age.X25519Identity.generate()
AGE = EnvelopeCipher(AgeProvider([ME.recipient()], [ME]))
values = st.binary(max_size=2048)
aads = st.binary(max_size=64)
# Sizes around the 64 KiB chunk boundaries of the stream mode.
stream_sizes = st.one_of(
    st.integers(min_value=0, max_value=300),
    st.sampled_from([65535, 65536, 65537, 131071, 131072, 131073]),
    st.integers(min_value=0, max_value=200_000),
)


@given(values, aads)
def test_decrypt_inverts_encrypt(data: bytes, aad: bytes) -> None:
    assert CIPHER.decrypt(CIPHER.encrypt(data, aad), aad) == data
    text = CIPHER.encrypt_text(data, aad)
    assert CIPHER.decrypt(text, aad) == data


@settings(max_examples=20)
@given(values, aads)
def test_age_provider_round_trip(data: bytes, aad: bytes) -> None:
    assert AGE.decrypt(AGE.encrypt(data, aad), aad) == data


@settings(max_examples=25)
@given(stream_sizes, aads, st.integers(min_value=1, max_value=70_000), st.booleans())
def test_stream_round_trip(size: int, aad: bytes, piece: int, parallel: bool) -> None:
    data = bytes(i % 251 for i in range(size))
    out = io.BytesIO()
    with CIPHER.encryptor(out, aad, parallel=parallel) as writer:
        for start in range(0, size, piece):
            writer.write(data[start : start + piece])
    env = out.getvalue()
    reader = CIPHER.decryptor(io.BytesIO(env), aad, parallel=parallel)
    got = bytearray()
    while chunk := reader.read(piece):
        got += chunk
    assert bytes(got) == data


@given(values, aads, aads)
def test_other_associated_data_fails(data: bytes, aad: bytes, other: bytes) -> None:
    if aad == other:
        return
    env = CIPHER.encrypt(data, aad)
    try:
        CIPHER.decrypt(env, other)
    except DecryptionError:
        return
    raise AssertionError("opened with the wrong associated data")


@settings(max_examples=30)
@given(values, aads)
def test_rewrap_keeps_plaintext_and_data_bytes(data: bytes, aad: bytes) -> None:
    ring = Keyring.generate()
    cipher = EnvelopeCipher(KeyringProvider(ring))
    env = cipher.encrypt(data, aad)
    ring.rotate()
    new = cipher.rewrap(env)
    assert new[inspect(new).header_size :] == env[inspect(env).header_size :]
    assert cipher.decrypt(new, aad) == data
    assert not cipher.needs_rewrap(new)


@given(values, aads, st.integers(min_value=0, max_value=1 << 20))
def test_any_bit_flip_is_refused(data: bytes, aad: bytes, position: int) -> None:
    env = bytearray(CIPHER.encrypt(data, aad))
    i = position % (len(env) * 8)
    env[i // 8] ^= 1 << (i % 8)
    try:
        CIPHER.decrypt(bytes(env), aad)
    except (DecryptionError, FormatError, KeyNotFoundError):
        return
    raise AssertionError(f"a flipped bit {i} went unnoticed")
