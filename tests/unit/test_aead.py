from __future__ import annotations

import inspect
import os
import pickle

import pytest

from sealbox.exceptions import DecryptionError, InvalidSignatureError, UnsupportedAlgorithmError
from sealbox.hazmat.aead import (
    AES256GCM,
    AES256GCMSIV,
    AES256SIV,
    ALGORITHMS,
    HMACSHA256,
    ChaCha20Poly1305,
    cipher_for,
)

RANDOMIZED = [AES256GCM, ChaCha20Poly1305, AES256GCMSIV]


@pytest.mark.parametrize("cls", RANDOMIZED)
def test_round_trip_and_fresh_nonces(cls: type) -> None:
    c = cls(cls.generate_key())
    a, b = c.encrypt(b"data", b"ad"), c.encrypt(b"data", b"ad")
    assert a != b and a[:12] != b[:12]
    assert len(a) == 12 + 4 + 16
    assert c.decrypt(a, b"ad") == b"data" == c.decrypt(b, b"ad")
    assert c.decrypt(c.encrypt(b""), b"") == b""


@pytest.mark.parametrize("cls", RANDOMIZED)
def test_encrypt_many_gives_each_pair_its_own_nonce(cls: type) -> None:
    c = cls(cls.generate_key())
    pairs = [(b"same", b"ad")] * 50 + [(b"", b""), (b"other", b"x")]
    sealed = c.encrypt_many(pairs)
    assert len(sealed) == len(pairs)
    assert len({s[:12] for s in sealed}) == len(pairs)
    assert [c.decrypt(s, ad) for s, (_, ad) in zip(sealed, pairs, strict=True)] == [
        p for p, _ in pairs
    ]
    assert c.encrypt_many([]) == []


@pytest.mark.parametrize("cls", RANDOMIZED)
def test_encrypt_takes_no_nonce(cls: type) -> None:
    assert "nonce" not in inspect.signature(cls.encrypt).parameters
    assert "nonce" not in inspect.signature(cls.encrypt_many).parameters


@pytest.mark.parametrize("cls", RANDOMIZED)
def test_every_kind_of_damage_is_one_opaque_error(cls: type) -> None:
    key = cls.generate_key()
    c = cls(key)
    ct = c.encrypt(b"attack at dawn", b"ad")
    bad = [
        (ct, b"other ad"),
        (ct[:-1], b"ad"),
        (ct[:27], b"ad"),
        (b"", b"ad"),
        (ct + b"\x00", b"ad"),
        (bytes([ct[0] ^ 1]) + ct[1:], b"ad"),
        (ct[:20] + bytes([ct[20] ^ 0x80]) + ct[21:], b"ad"),
    ]
    for data, ad in bad:
        with pytest.raises(DecryptionError) as info:
            c.decrypt(data, ad)
        assert str(info.value) == "decryption failed"
    with pytest.raises(DecryptionError):
        cls(cls.generate_key()).decrypt(ct, b"ad")


@pytest.mark.parametrize("cls", [*RANDOMIZED, AES256SIV])
def test_key_checks(cls: type) -> None:
    with pytest.raises(ValueError, match="byte key"):
        cls(b"short")
    with pytest.raises(TypeError):
        cls("a string key" * 4)
    assert len(cls.generate_key()) == cls.KEY_SIZE


@pytest.mark.parametrize("cls", [*RANDOMIZED, AES256SIV, HMACSHA256])
def test_no_key_in_repr_and_no_pickling(cls: type) -> None:
    key = os.urandom(64 if cls is AES256SIV else 32)
    obj = cls(key)
    assert key.hex() not in repr(obj) and "key" not in repr(obj).lower().replace("keysize", "")
    with pytest.raises(TypeError):
        pickle.dumps(obj)


def test_siv_is_deterministic_and_binds_every_ad_item() -> None:
    siv = AES256SIV(AES256SIV.generate_key())
    a = siv.encrypt(b"alice@example.com", [b"h", b"users.email"])
    assert a == siv.encrypt(b"alice@example.com", [b"h", b"users.email"])
    assert siv.decrypt(a, [b"h", b"users.email"]) == b"alice@example.com"
    with pytest.raises(DecryptionError):
        siv.decrypt(a, [b"hu", b"sers.email"])
    with pytest.raises(DecryptionError):
        siv.decrypt(a[:16], [b"h", b"users.email"])
    with pytest.raises(ValueError, match="empty"):
        siv.encrypt(b"")
    assert siv.decrypt(siv.encrypt(b"x", b"ad"), b"ad") == b"x"


def test_hmac() -> None:
    mac = HMACSHA256(b"k" * 32)
    tag = mac.sign(b"msg")
    assert len(tag) == 32
    mac.verify(b"msg", tag)
    for bad in (tag[:16], tag[:-1] + bytes([tag[-1] ^ 1]), b""):
        with pytest.raises(InvalidSignatureError):
            mac.verify(b"msg", bad)
    with pytest.raises(ValueError, match="at least 16"):
        HMACSHA256(b"short")


def test_cipher_for() -> None:
    assert set(ALGORITHMS) == {"aes-256-gcm", "chacha20-poly1305", "aes-256-gcm-siv"}
    assert isinstance(cipher_for("chacha20-poly1305", os.urandom(32)), ChaCha20Poly1305)
    with pytest.raises(UnsupportedAlgorithmError, match="aes-128-cbc"):
        cipher_for("aes-128-cbc", os.urandom(32))
