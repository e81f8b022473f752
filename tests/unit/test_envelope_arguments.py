"""sealbox.keysets.envelope given the wrong objects, and stream envelopes cut or reshuffled.

What would otherwise fail at the first envelope with an ``AttributeError`` deep inside
(``'Keyring' object has no attribute 'wrap'``) is refused when the cipher or provider is
made, with a ``TypeError`` that names what to give instead.
"""

from __future__ import annotations

import io
import os

import pytest

from sealbox import age
from sealbox.exceptions import DecryptionError
from sealbox.keysets.envelope import AgeProvider, EnvelopeCipher, KeyringProvider, inspect
from sealbox.keysets.keyring import Keyring

CHUNK = 64 * 1024 + 16  # an age payload chunk with its tag


def test_a_keyring_given_as_the_provider_is_refused_naming_keyring_provider() -> None:
    ring = Keyring.generate()
    with pytest.raises(TypeError, match=r"KeyringProvider\(keyring\)"):
        EnvelopeCipher(ring)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"KeyringProvider\(keyring\)"):
        EnvelopeCipher(KeyringProvider(Keyring.generate()), decrypt_with=[ring])  # type: ignore[list-item]


def test_other_objects_given_as_a_provider_are_refused_naming_the_providers() -> None:
    ops = age.X25519Identity.generate()
    with pytest.raises(TypeError, match=r"VaultTransitProvider\('payments'\)"):
        EnvelopeCipher("payments")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"AgeProvider\(recipients=\[.*\], identities=\[.*\]\)"):
        EnvelopeCipher(ops)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"AgeProvider\(recipients=\[.*\]\)"):
        EnvelopeCipher(ops.recipient())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"not NoneType.*KeyProvider"):
        EnvelopeCipher(None)  # type: ignore[arg-type]


def test_a_lone_provider_given_as_decrypt_with_is_refused_asking_for_a_list() -> None:
    new, old = KeyringProvider(Keyring.generate()), KeyringProvider(Keyring.generate())
    with pytest.raises(TypeError, match=r"decrypt_with takes a list of providers"):
        EnvelopeCipher(new, decrypt_with=old)  # type: ignore[arg-type]
    assert (
        EnvelopeCipher(new, decrypt_with=(old,)).decrypt(EnvelopeCipher(old).encrypt(b"moved"))
        == b"moved"
    )


def test_keyring_provider_refuses_what_is_not_a_keyring_naming_keyring_load() -> None:
    with pytest.raises(TypeError, match=r"Keyring\.load"):
        KeyringProvider("app.keyring")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"not NoneType"):
        KeyringProvider(None)  # type: ignore[arg-type]


def test_age_provider_refuses_lone_objects_strings_and_identities_as_recipients() -> None:
    ops = age.X25519Identity.generate()
    with pytest.raises(TypeError, match="give a list of recipient objects"):
        AgeProvider(recipients=ops.recipient())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="give a list of recipient objects, not one str"):
        AgeProvider(recipients=str(ops.recipient()))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"parse_recipient"):
        AgeProvider(recipients=[str(ops.recipient())])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"identity\.recipient\(\)"):
        AgeProvider(recipients=[ops])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="give a list of identity objects"):
        AgeProvider(identities=ops)  # type: ignore[arg-type]
    provider = AgeProvider(recipients=[ops.recipient()], identities=[ops])
    assert EnvelopeCipher(provider).decrypt(EnvelopeCipher(provider).encrypt(b"ok")) == b"ok"


@pytest.fixture
def stream() -> tuple[EnvelopeCipher, bytes, bytes, list[bytes]]:
    cipher = EnvelopeCipher(KeyringProvider(Keyring.generate()))
    out = io.BytesIO()
    with cipher.encryptor(out, b"backups/7") as w:
        w.write(os.urandom(3 * 64 * 1024 + 100))
    env = out.getvalue()
    start = inspect(env).header_size + 16  # the header, then the payload's nonce
    body = env[start:]
    return cipher, env, env[:start], [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


def _refusal(cipher: EnvelopeCipher, env: bytes) -> str:
    with pytest.raises(DecryptionError) as info:
        cipher.decryptor(io.BytesIO(env), b"backups/7").read()
    with pytest.raises(DecryptionError) as whole:
        cipher.decrypt(env, b"backups/7")
    assert str(whole.value) == str(info.value)
    return str(info.value)


def test_stream_chunks_dropped_reordered_or_repeated_are_refused_saying_which(stream) -> None:
    cipher, env, head, chunks = stream
    assert len(chunks) == 4
    failed = "a payload chunk failed to authenticate"
    assert "has no final chunk" in _refusal(cipher, head + b"".join(chunks[:-1]))
    assert failed in _refusal(cipher, head + b"".join(chunks[:1] + chunks[2:]))
    assert failed in _refusal(cipher, head + b"".join([chunks[1], chunks[0], *chunks[2:]]))
    assert failed in _refusal(cipher, head + b"".join([chunks[0], *chunks]))
    assert failed in _refusal(cipher, env + chunks[-1])
    with pytest.raises(DecryptionError, match=r"^decryption failed$"):
        cipher.decryptor(io.BytesIO(env), b"backups/8")
