"""Envelope edges found by an outside tester: argument types, keyring key states, the
format doc read by hand, and constant memory on a large stream."""

from __future__ import annotations

import hashlib
import hmac
import io
import subprocess
import sys
import textwrap

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealbox.exceptions import DecryptionError, KeyStateError
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider
from sealbox.keysets.envelope.format import WrappedKey
from sealbox.keysets.keyring import Keyring

PLAINTEXT = b"edges2-canary-plaintext-5d1e"


class CountingProvider(KeyringProvider):
    """A real keyring provider that counts its calls (each would be a Vault round trip)."""

    __slots__ = ("calls",)

    def __init__(self, keyring: Keyring) -> None:
        super().__init__(keyring)
        self.calls: list[str] = []

    def wrap(self, key_blob: bytes) -> WrappedKey:
        self.calls.append("wrap")
        return super().wrap(key_blob)

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        self.calls.append("unwrap")
        return super().unwrap(wrapped)


@pytest.fixture
def counting() -> CountingProvider:
    return CountingProvider(Keyring.generate())


@pytest.mark.parametrize("bad", ["ctx", None, 7])
def test_associated_data_that_is_not_bytes_is_refused_naming_it_before_any_provider_call(
    counting: CountingProvider, bad: object
) -> None:
    cipher = EnvelopeCipher(counting)
    blob = cipher.encrypt(PLAINTEXT, b"ctx")
    counting.calls.clear()
    attempts = (
        lambda: cipher.encrypt(PLAINTEXT, bad),  # type: ignore[arg-type]
        lambda: cipher.encrypt_text(PLAINTEXT, bad),  # type: ignore[arg-type]
        lambda: cipher.encryptor(io.BytesIO(), bad),  # type: ignore[arg-type]
        lambda: cipher.decrypt(blob, bad),  # type: ignore[arg-type]
        lambda: cipher.decryptor(io.BytesIO(blob), bad),  # type: ignore[arg-type]
    )
    for attempt in attempts:
        with pytest.raises(TypeError, match=r"^associated_data must be bytes"):
            attempt()
    # Refused before the data key was wrapped or unwrapped (a Vault round trip each).
    assert counting.calls == []


@pytest.mark.parametrize("bad", ["a value", None, 7])
def test_a_value_that_is_not_bytes_is_refused_naming_it_before_any_provider_call(
    counting: CountingProvider, bad: object
) -> None:
    cipher = EnvelopeCipher(counting)
    with pytest.raises(TypeError, match=r"^data must be bytes") as info:
        cipher.encrypt(bad)  # type: ignore[arg-type]
    assert "a value" not in str(info.value)
    assert counting.calls == []


def test_bytes_like_values_and_associated_data_still_round_trip(counting) -> None:
    cipher = EnvelopeCipher(counting)
    blob = cipher.encrypt(bytearray(PLAINTEXT), memoryview(b"ctx"))
    assert cipher.decrypt(blob, bytearray(b"ctx")) == PLAINTEXT
    assert cipher.decrypt(cipher.encrypt_text("é", b"ctx"), b"ctx") == "é".encode()


def _stream(cipher: EnvelopeCipher, data: bytes, ad: bytes) -> bytes:
    out = io.BytesIO()
    with cipher.encryptor(out, ad) as w:
        w.write(data)
    return out.getvalue()


@pytest.mark.parametrize("state", ["disabled", "destroyed"])
def test_an_envelope_of_a_disabled_or_destroyed_keyring_key_says_so(state: str) -> None:
    ring = Keyring.generate()
    cipher = EnvelopeCipher(KeyringProvider(ring))
    old = ring.primary_id
    sealed, stream = cipher.encrypt(PLAINTEXT, b"ad"), _stream(cipher, PLAINTEXT, b"ad")
    ring.rotate()
    ring.disable(old)
    if state == "destroyed":
        ring.destroy(old)
    attempts = (
        lambda: cipher.decrypt(sealed, b"ad"),
        lambda: cipher.decrypt(stream, b"ad"),
        lambda: cipher.decryptor(io.BytesIO(stream), b"ad"),
        lambda: cipher.rewrap(sealed),
    )
    for attempt in attempts:
        with pytest.raises(KeyStateError) as info:
            attempt()
        exc = info.value
        assert isinstance(exc, DecryptionError)  # what these envelopes raised before
        assert exc.code == ("key_destroyed" if state == "destroyed" else "key_not_usable")
        assert exc.facts == {"provider": "keyring", "key_id": f"{old:08x}", "state": state}
        assert f"keyring key {old:08x} is {state}" in str(exc)
        assert exc.hint
        assert PLAINTEXT.decode() not in repr(exc) + str(exc) + exc.hint


def test_a_disabled_key_still_lets_another_keyring_holding_it_open_the_envelope() -> None:
    ring = Keyring.generate()
    twin = Keyring.from_unencrypted(ring.serialize_unencrypted())
    blob = EnvelopeCipher(KeyringProvider(ring)).encrypt(PLAINTEXT)
    ring.rotate()
    ring.disable(twin.primary_id)
    both = EnvelopeCipher(KeyringProvider(ring), decrypt_with=[KeyringProvider(twin)])
    assert both.decrypt(blob) == PLAINTEXT


def test_an_altered_envelope_of_a_usable_key_stays_an_opaque_decryption_error() -> None:
    ring = Keyring.generate()
    cipher = EnvelopeCipher(KeyringProvider(ring))
    blob = bytearray(cipher.encrypt(PLAINTEXT))
    blob[40] ^= 1  # inside the wrapped key
    with pytest.raises(DecryptionError) as info:
        cipher.decrypt(bytes(blob))
    assert str(info.value) == "decryption failed"


# -- docs/formats.md, envelope section, followed by hand ----------------------------


def _parse_by_the_doc(env: bytes) -> tuple[int, str, str, int, bytes, bytes]:
    assert env[:4] == b"sbe\x01"
    mode, at = env[4], 5
    provider = env[at + 1 : at + 1 + env[at]].decode()
    at += 1 + env[at]
    key_id = env[at + 1 : at + 1 + env[at]].decode()
    at += 1 + env[at]
    version = int.from_bytes(env[at : at + 4], "big")
    size = int.from_bytes(env[at + 4 : at + 6], "big")
    wrapped = env[at + 6 : at + 6 + size]
    return mode, provider, key_id, version, wrapped, env[at + 6 + size :]


def _data_key(ring: Keyring, wrapped: bytes, mode: int, ad: bytes) -> bytes:
    blob = ring.open(wrapped, b"sealbox-envelope/1 wrapped key")
    size = 32 if mode == 1 else 16
    label = b"sealbox-envelope/1 associated data\x00" + bytes((mode,)) + ad
    assert hmac.compare_digest(blob[size:], hashlib.sha256(label).digest())
    return blob[:size]


def test_a_sealed_envelope_parses_and_opens_by_the_format_doc() -> None:
    ring = Keyring.generate()
    env = EnvelopeCipher(KeyringProvider(ring)).encrypt(PLAINTEXT, b"rows/9")
    mode, provider, key_id, version, wrapped, data = _parse_by_the_doc(env)
    assert (mode, provider, key_id, version) == (1, "keyring", f"{ring.primary_id:08x}", 0)
    key = _data_key(ring, wrapped, mode, b"rows/9")
    aad = b"sbe\x01\x01" + b"rows/9"
    assert AESGCM(key).decrypt(data[:12], data[12:], aad) == PLAINTEXT


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536])
def test_a_stream_envelope_parses_and_opens_by_the_format_doc(size: int) -> None:
    ring = Keyring.generate()
    plaintext = bytes(range(256)) * (size // 256) + bytes(size % 256)
    env = _stream(EnvelopeCipher(KeyringProvider(ring)), plaintext, b"blobs/3")
    mode, provider, _, _, wrapped, data = _parse_by_the_doc(env)
    assert (mode, provider) == (2, "keyring")
    file_key = _data_key(ring, wrapped, mode, b"blobs/3")
    nonce, chunks = data[:16], data[16:]
    key = HKDF(hashes.SHA256(), 32, nonce, b"payload").derive(file_key)
    out, step = bytearray(), 65536 + 16
    pieces = [chunks[i : i + step] for i in range(0, len(chunks), step)] or [b""]
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1
        chunk_nonce = n.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        out += ChaCha20Poly1305(key).decrypt(chunk_nonce, piece, None)
    assert bytes(out) == plaintext


# -- memory -------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import os, resource, threading
    from sealbox import Keyring
    from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider

    cipher = EnvelopeCipher(KeyringProvider(Keyring.generate()))
    total, block = 512 * 1024 * 1024, bytes(1024 * 1024 + 7)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r, w = os.pipe()

    def encrypt():
        with os.fdopen(w, "wb") as out, cipher.encryptor(out, b"ad") as enc:
            left = total
            while left > 0:
                enc.write(block[: min(left, len(block))])
                left -= len(block)

    writer = threading.Thread(target=encrypt)
    writer.start()
    seen = 0
    with os.fdopen(r, "rb") as src:
        for view in cipher.decryptor(src, b"ad").views():
            seen += len(view)
    writer.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(seen == total, (peak - base) // 1024)
    """
)


def test_512_mib_streamed_through_encryptor_and_decryptor_stays_in_flat_memory() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=600
    )
    complete, grown_mib = done.stdout.split()
    assert complete == "True"
    # Constant memory: a few chunk buffers and worker batches, never the 512 MiB.
    assert int(grown_mib) < 64


def test_rewrap_moves_an_envelope_whose_key_is_disabled_here_through_a_keyring_holding_it() -> None:
    ring = Keyring.generate()
    twin = Keyring.from_unencrypted(ring.serialize_unencrypted())
    blob = EnvelopeCipher(KeyringProvider(ring)).encrypt(PLAINTEXT)
    old = ring.primary_id
    ring.rotate()
    ring.disable(old)
    both = EnvelopeCipher(KeyringProvider(ring), decrypt_with=[KeyringProvider(twin)])
    moved = both.rewrap(blob)
    assert EnvelopeCipher(KeyringProvider(ring)).decrypt(moved) == PLAINTEXT
