"""Transit keys as a library (no service): formats, versions, every key type, checked against pyca."""

from __future__ import annotations

import base64
import hashlib
import hmac as std_hmac
import os
import pickle
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV, ChaCha20Poly1305

from sealbox.exceptions import DecryptionError, SealboxError
from sealbox.transit import (
    KEY_TYPES,
    SIGNING_TYPES,
    InvalidCiphertextError,
    InvalidKeyVersionError,
    InvalidRequestError,
    KeyVersionTooOldError,
    TransitKey,
    UnknownKeyTypeError,
    UnsupportedOperationError,
    export_text,
    format_versioned,
    new_material,
    open_material,
    parse_versioned,
    peek_version,
    seal_material,
    vault_spelling,
)
from sealbox.transit.formats import split_version

MASTER = bytes(range(32))
NOW = datetime(2026, 11, 29, tzinfo=UTC)

_MATERIAL: dict[str, bytes] = {}


def material(key_type: str, version: int = 1) -> bytes:
    """One key per (type, version) for the whole module: RSA generation is slow."""
    return _MATERIAL.setdefault(f"{key_type}/{version}", new_material(key_type))


def make_key(key_type: str, versions: int = 1, **config) -> TransitKey:
    record = SimpleNamespace(
        name=config.pop("name", "k"),
        type=key_type,
        latest_version=versions,
        min_decryption_version=config.pop("min_decryption_version", 1),
        min_encryption_version=config.pop("min_encryption_version", 0),
        deletion_allowed=False,
        exportable=False,
        created_at=NOW,
        updated_at=NOW,
    )
    assert not config
    return TransitKey.build(
        record, {v: (NOW, material(key_type, v)) for v in range(1, versions + 1)}
    )


def code(exc_info: pytest.ExceptionInfo[SealboxError]) -> str:
    return exc_info.value.code


# -- the text form ------------------------------------------------------------------------


def test_versioned_round_trip_uses_standard_padded_base64() -> None:
    data = bytes([0xFB, 0xFF]) + os.urandom(20)
    text = format_versioned(12, data)
    assert text.startswith("sealbox:v12:")
    assert text.split(":", 2)[2] == base64.b64encode(data).decode()
    assert parse_versioned(text) == (12, data)
    assert peek_version(text) == 12


@pytest.mark.parametrize(
    "text",
    [
        "vault:1:AAAA",
        "vault:v0:AAAA",
        "VAULT:v1:AAAA",
        "sealbox:1:AAAA",
        "sealbox:v:AAAA",
        "sealbox:v0:AAAA",
        "sealbox:v01:AAAA",
        "sealbox:v-1:AAAA",
        "sealbox:v1",
        "sealbox:v\u0661:AAAA",  # an Arabic-Indic digit one: not ASCII
        "sealbox:v2147483648:AAAA",
        "sealbox:v99999999999:AAAA",
        "SEALBOX:v1:AAAA",
        "",
    ],
)
def test_malformed_prefixes_are_refused_precisely(text: str) -> None:
    assert peek_version(text) is None
    assert split_version(text) is None
    with pytest.raises(InvalidCiphertextError) as exc:
        parse_versioned(text)
    assert code(exc) == "invalid_ciphertext"
    assert "sealbox:v<N>:<base64>" in str(exc.value)


def test_vault_spelling_reads_as_the_native_one() -> None:
    assert peek_version("vault:v12:AAAA") == 12
    assert parse_versioned("vault:v3:AAAA") == parse_versioned("sealbox:v3:AAAA") == (3, b"\0\0\0")
    assert vault_spelling("sealbox:v3:AAAA") == "vault:v3:AAAA"
    assert vault_spelling("vault:v3:AAAA") == "vault:v3:AAAA"


def test_a_key_opens_its_ciphertexts_in_either_spelling() -> None:
    key = make_key("aes256-gcm", versions=2)
    ciphertext, _ = key.encrypt(b"row", b"ad")
    assert key.decrypt(vault_spelling(ciphertext), b"ad") == b"row"
    assert key.rewrap(vault_spelling(ciphertext), b"ad")[0].startswith("sealbox:v2:")


@pytest.mark.parametrize("key_type", ["aes256-gcm", "chacha20-poly1305", "ed25519", "hmac"])
def test_every_key_type_has_a_per_version_hmac_key(key_type: str) -> None:
    key = make_key(key_type, versions=2)
    tag, version = key.version_hmac(b"payload")
    assert version == 2
    assert key.verify_version_hmac(b"payload", tag)
    assert key.verify_version_hmac(b"payload", vault_spelling(tag))
    assert not key.verify_version_hmac(b"payload!", tag)
    older, _ = key.version_hmac(b"payload", 1)
    assert older != tag
    assert key.verify_version_hmac(b"payload", older)
    for v in (1, 2):
        raw = material(key_type, v)
        # The HMAC key is derived from the material, never the material itself.
        plain = std_hmac.new(raw, b"payload", hashlib.sha256).digest()
        assert (plain == parse_versioned(key.version_hmac(b"payload", v)[0])[1]) is (
            key_type == "hmac"
        )


def test_an_hmac_keys_version_hmac_is_its_hmac() -> None:
    key = make_key("hmac", versions=1)
    assert key.version_hmac(b"m") == key.hmac(b"m")


@pytest.mark.parametrize(
    "body", ["AAA", "AA=A", "AA AA", "AA-_", "AAAA\n", "AAAA=", "AAAA==", "AAAA====", "AA==="]
)
def test_bad_base64_after_the_prefix_is_refused(body: str) -> None:
    with pytest.raises(InvalidCiphertextError) as exc:
        parse_versioned(f"sealbox:v1:{body}", "signature")
    assert code(exc) == "invalid_ciphertext"
    assert str(exc.value) == "the signature is not valid base64 after its prefix"
    assert exc.value.facts == {"what": "signature"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sealbox:v1:AAAA", (1, 11)),
        ("vault:v12:AAAA", (12, 10)),
        ("sealbox:v2147483647:", (2**31 - 1, 20)),
        ("sealbox:v3::", (3, 11)),
        ("vault:v1:", (1, 9)),
    ],
)
def test_split_version_gives_the_version_and_where_its_base64_starts(
    text: str, expected: tuple[int, int]
) -> None:
    assert split_version(text) == expected
    assert text[expected[1] :] == text.split(":", 2)[2]


def test_peek_version_ignores_non_strings() -> None:
    assert peek_version(None) is None
    assert peek_version(b"sealbox:v1:AAAA") is None
    assert peek_version("sealbox:v2147483647:") == 2**31 - 1


# -- sealed material ----------------------------------------------------------------------


def test_sealed_material_is_bound_to_name_type_and_version() -> None:
    raw = os.urandom(32)
    sealed = seal_material(MASTER, "orders", "aes256-gcm", 3, raw)
    assert sealed[0] == 1 and raw not in sealed
    assert open_material(MASTER, "orders", "aes256-gcm", 3, sealed) == raw
    for name, key_type, version in [
        ("orders2", "aes256-gcm", 3),
        ("orders", "chacha20-poly1305", 3),
        ("orders", "aes256-gcm", 2),
    ]:
        with pytest.raises(DecryptionError, match="wrong master key, or the database row"):
            open_material(MASTER, name, key_type, version, sealed)
    with pytest.raises(DecryptionError):
        open_material(os.urandom(32), "orders", "aes256-gcm", 3, sealed)
    with pytest.raises(DecryptionError, match="not sealed material"):
        open_material(MASTER, "orders", "aes256-gcm", 3, b"\x02" + sealed[1:])
    # The layout: format byte, then AES-256-GCM (nonce || ciphertext || tag) under the master key.
    ad = b"sealbox-transit-key/1\x00orders\x00aes256-gcm\x003"
    assert AESGCM(MASTER).decrypt(sealed[1:13], sealed[13:], ad) == raw


@pytest.mark.parametrize(
    ("key_type", "size"),
    [("aes256-gcm", 32), ("chacha20-poly1305", 32), ("aes256-siv", 64), ("hmac", 32)],
)
def test_symmetric_material_sizes(key_type: str, size: int) -> None:
    assert len(new_material(key_type)) == size
    assert new_material(key_type) != new_material(key_type)


def test_signing_material_is_pkcs8_pem() -> None:
    for key_type in SIGNING_TYPES:
        pem = material(key_type)
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
        key = serialization.load_pem_private_key(pem, None)
        if key_type == "rsa-3072":
            assert key.key_size == 3072


def test_unknown_type_is_refused() -> None:
    with pytest.raises(UnknownKeyTypeError) as exc:
        new_material("aes128-gcm96")
    assert code(exc) == "unknown_key_type" and "aes256-gcm" in str(exc.value)
    assert exc.value.facts == {"type": "aes128-gcm96"}


# -- encryption ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_type", "open_with"),
    [
        ("aes256-gcm", lambda k, d, ad: AESGCM(k).decrypt(d[:12], d[12:], ad)),
        ("chacha20-poly1305", lambda k, d, ad: ChaCha20Poly1305(k).decrypt(d[:12], d[12:], ad)),
        ("aes256-siv", lambda k, d, ad: AESSIV(k).decrypt(d, [ad])),
    ],
)
def test_ciphertexts_open_with_pyca_and_the_exported_key(key_type: str, open_with) -> None:
    key = make_key(key_type)
    text, version = key.encrypt(b"card 4111", b"order:7")
    assert version == 1 and text.startswith("sealbox:v1:")
    assert key.decrypt(text, b"order:7") == b"card 4111"
    # The bytes after the prefix are the primitive's own output: the exported key opens them.
    raw = base64.b64decode(export_text(key_type, material(key_type)))
    assert open_with(raw, parse_versioned(text)[1], b"order:7") == b"card 4111"


@pytest.mark.parametrize("key_type", ["aes256-gcm", "chacha20-poly1305", "aes256-siv"])
def test_wrong_associated_data_or_tampering_fails_opaquely(key_type: str) -> None:
    key = make_key(key_type)
    text, _ = key.encrypt(b"secret", b"ctx")
    version, data = parse_versioned(text)
    tampered = format_versioned(version, data[:-1] + bytes([data[-1] ^ 1]))
    messages = set()
    for ciphertext, ad in [(text, b"other"), (tampered, b"ctx"), (format_versioned(1, b"x"), b"")]:
        with pytest.raises(DecryptionError) as exc:
            key.decrypt(ciphertext, ad)
        assert code(exc) == "decryption_failed"
        messages.add(str(exc.value))
    assert len(messages) == 1


def test_randomized_and_deterministic_types() -> None:
    gcm, siv = make_key("aes256-gcm"), make_key("aes256-siv")
    assert gcm.encrypt(b"same", b"")[0] != gcm.encrypt(b"same", b"")[0]
    assert siv.encrypt(b"same", b"a")[0] == siv.encrypt(b"same", b"a")[0]
    assert siv.encrypt(b"same", b"a")[0] != siv.encrypt(b"same", b"b")[0]
    assert gcm.decrypt(gcm.encrypt(b"", b"")[0], b"") == b""
    with pytest.raises(InvalidRequestError, match="cannot encrypt an empty plaintext"):
        siv.encrypt(b"", b"")


def test_versions_rotation_rules() -> None:
    key = make_key("aes256-gcm", versions=3)
    old = {v: key.encrypt(b"p", b"", v)[0] for v in (1, 2, 3)}
    assert [t[:11] for t in old.values()] == ["sealbox:v1:", "sealbox:v2:", "sealbox:v3:"]
    assert key.encrypt(b"p", b"")[1] == 3
    with pytest.raises(InvalidKeyVersionError) as exc:
        key.encrypt(b"p", b"", 4)
    assert code(exc) == "invalid_key_version" and "has no version 4" in str(exc.value)

    key = make_key("aes256-gcm", versions=3, min_decryption_version=2, min_encryption_version=3)
    with pytest.raises(KeyVersionTooOldError) as exc:
        key.decrypt(old[1], b"")
    assert code(exc) == "key_version_too_old"
    assert "version 1 of key 'k', below its min_decryption_version 2" in str(exc.value)
    assert exc.value.facts == {"key": "k", "version": "1", "min_decryption_version": "2"}
    assert key.decrypt(old[2], b"") == b"p"
    with pytest.raises(
        InvalidKeyVersionError, match="below the key's minimum version for new data"
    ):
        key.encrypt(b"p", b"", 2)
    new, used = key.rewrap(old[2], b"")
    assert used == 3 and key.decrypt(new, b"") == b"p"
    with pytest.raises(InvalidKeyVersionError) as exc:
        key.decrypt("sealbox:v9:" + old[3].split(":", 2)[2], b"")
    assert code(exc) == "invalid_key_version" and "does not exist" in str(exc.value)


def test_datakeys() -> None:
    key = make_key("chacha20-poly1305")
    for bits in (128, 256, 512):
        data_key, text, version = key.datakey(bits, b"blob:1")
        assert len(data_key) == bits // 8 and version == 1
        assert key.decrypt(text, b"blob:1") == data_key
    with pytest.raises(InvalidRequestError, match="bits must be 128, 256 or 512"):
        key.datakey(64, b"")


# -- signatures and HMACs -----------------------------------------------------------------


def test_signatures_verify_with_pyca_and_the_published_public_key() -> None:
    data = b"release 1.2.3"
    for key_type in SIGNING_TYPES:
        key = make_key(key_type)
        text, version = key.sign(data)
        assert version == 1 and key.verify(data, text)
        assert not key.verify(b"release 1.2.4", text)
        signature = parse_versioned(text)[1]
        published = key.info()["keys"]["1"]["public_key"]
        if key_type == "ed25519":
            public = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(published))
            public.verify(signature, data)
        else:
            public = serialization.load_pem_public_key(published.encode())
            if key_type == "ecdsa-p256":
                public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            else:
                pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
                public.verify(signature, data, pss, hashes.SHA256())
                with pytest.raises(InvalidSignature):
                    public.verify(signature, b"other", pss, hashes.SHA256())


def test_hmac_is_hmac_sha256_of_the_exported_key() -> None:
    key = make_key("hmac", versions=2)
    tag, version = key.hmac(b"payload")
    assert version == 2
    raw = base64.b64decode(export_text("hmac", material("hmac", 2)))
    expected = std_hmac.new(raw, b"payload", hashlib.sha256).digest()
    assert parse_versioned(tag)[1] == expected
    assert key.verify_hmac(b"payload", tag)
    assert not key.verify_hmac(b"payload!", tag)
    assert key.verify_hmac(b"payload", key.hmac(b"payload", 1)[0])
    assert not key.verify_hmac(b"payload", format_versioned(2, expected[:16]))


@pytest.mark.parametrize(
    ("key_type", "operation"),
    [
        ("ed25519", "encrypt"),
        ("hmac", "decrypt"),
        ("aes256-gcm", "sign"),
        ("rsa-3072", "hmac"),
        ("aes256-siv", "verify"),
        ("ecdsa-p256", "datakey"),
    ],
)
def test_operations_a_type_does_not_have(key_type: str, operation: str) -> None:
    key = make_key(key_type)
    call = {
        "encrypt": lambda: key.encrypt(b"x", b""),
        "decrypt": lambda: key.decrypt("sealbox:v1:AAAA", b""),
        "sign": lambda: key.sign(b"x"),
        "hmac": lambda: key.hmac(b"x"),
        "verify": lambda: key.verify(b"x", "sealbox:v1:AAAA"),
        "datakey": lambda: key.datakey(256, b""),
    }[operation]
    with pytest.raises(UnsupportedOperationError) as exc:
        call()
    assert code(exc) == "unsupported_operation"
    assert str(exc.value).startswith(f"{key_type} keys cannot {operation}: use a key of type")
    assert exc.value.facts == {"type": key_type, "operation": operation}


# -- what a key shows ---------------------------------------------------------------------


def test_info_shows_configuration_and_public_keys_only() -> None:
    for key_type in KEY_TYPES:
        key = make_key(key_type, versions=2, min_decryption_version=2)
        info = key.info()
        assert info["type"] == key_type and info["latest_version"] == 2
        assert info["min_decryption_version"] == 2 and info["exportable"] is False
        assert set(info["keys"]) == {"1", "2"}
        assert info["keys"]["1"]["creation_time"] == "2026-11-29T00:00:00Z"
        shown = repr(info)
        for v in (1, 2):
            secret = material(key_type, v)
            for form in (secret.hex(), base64.b64encode(secret).decode()[:40]):
                assert form not in shown
            assert b"PRIVATE" not in shown.encode()
        assert ("public_key" in info["keys"]["1"]) == (key_type in SIGNING_TYPES)


def test_snapshots_never_show_or_pickle_material() -> None:
    key = make_key("aes256-gcm")
    assert repr(key) == "TransitKey(name='k', type='aes256-gcm', latest=1)"
    assert repr(key.versions[1]) == "KeyVersion(version=1)"
    for obj in (key, key.versions[1]):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(obj)


# -- batches --------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["aes256-gcm", "chacha20-poly1305", "aes256-siv"])
def test_an_encryptor_gives_what_encrypt_gives(key_type: str) -> None:
    key = make_key(key_type, versions=2)
    for version in (0, 1, 2):
        encrypt = key.encryptor(version)
        ciphertext, used = encrypt(b"plain", b"ad")
        assert used == key.encrypt(b"plain", b"ad", version)[1] == (version or 2)
        assert ciphertext.startswith(f"sealbox:v{used}:")
        assert key.decrypt(ciphertext, b"ad") == b"plain"
    if key_type == "aes256-siv":  # deterministic: the very same text
        assert key.encryptor(1)(b"plain", b"ad") == key.encrypt(b"plain", b"ad", 1)


@pytest.mark.parametrize(
    ("key_type", "version", "plaintext"),
    [
        ("aes256-gcm", 3, b"p"),  # no such version
        ("aes256-siv", 0, b""),  # SIV refuses an empty plaintext
        ("ed25519", 0, b"p"),  # a type that does not encrypt
    ],
)
def test_an_encryptor_refuses_each_call_as_encrypt_does(key_type, version, plaintext) -> None:
    key = make_key(key_type, versions=2, min_encryption_version=0)
    with pytest.raises(SealboxError) as expected:
        key.encrypt(plaintext, b"", version)
    encrypt = key.encryptor(version)
    for _ in range(2):
        with pytest.raises(type(expected.value)) as got:
            encrypt(plaintext, b"")
        assert (str(got.value), got.value.code) == (str(expected.value), expected.value.code)


@pytest.mark.parametrize("key_type", ["aes256-gcm", "chacha20-poly1305", "aes256-siv"])
def test_encrypt_many_gives_what_encrypt_gives_each_pair(key_type: str) -> None:
    key = make_key(key_type, versions=2)
    pairs = [(b"one", b""), (b"", b"ad"), (b"three", b"ad")]
    for version in (0, 1):
        results, used = key.encrypt_many(pairs, version)
        assert used == (version or 2)
        for (plaintext, ad), result in zip(pairs, results, strict=True):
            if key_type == "aes256-siv" and not plaintext:  # SIV refuses an empty plaintext
                assert isinstance(result, InvalidRequestError)
                with pytest.raises(InvalidRequestError) as expected:
                    key.encrypt(plaintext, ad, version)
                assert str(result) == str(expected.value)
                continue
            assert isinstance(result, bytes)
            text = result.decode("ascii")
            assert text.startswith(f"sealbox:v{used}:")
            assert key.decrypt(text, ad) == plaintext
            if key_type == "aes256-siv":  # deterministic: the very same text
                assert text == key.encrypt(plaintext, ad, version)[0]


@pytest.mark.parametrize("key_type", ["aes256-gcm", "aes256-siv", "ed25519"])
def test_decrypt_parsed_answers_what_decrypt_answers(key_type: str) -> None:
    from sealbox.transit.formats import parse_versioned

    key = make_key(key_type, versions=2, min_decryption_version=2)
    source = make_key("aes256-gcm" if key_type == "ed25519" else key_type, versions=2)
    texts = [source.encrypt(b"p", b"ad", v)[0] for v in (1, 2)] + ["sealbox:v9:AAAA"]
    for text in texts:
        for ad in (b"ad", b"other"):
            try:
                expected: bytes | SealboxError = key.decrypt(text, ad)
            except SealboxError as exc:
                expected = exc
            try:
                got: bytes | SealboxError = key.decrypt_parsed(*parse_versioned(text), ad)
            except SealboxError as exc:
                got = exc
            if isinstance(expected, SealboxError):
                assert isinstance(got, type(expected))
                assert str(got) == str(expected)
            else:
                assert got == expected


@pytest.mark.parametrize("key_type", ["aes256-gcm", "chacha20-poly1305", "aes256-siv"])
def test_seal_many_is_encrypt_many_before_the_text_form(key_type: str) -> None:
    key = make_key(key_type, versions=2)
    pairs = [(b"one", b""), (b"", b""), (b"three", b"ad")]
    sealed, used = key.seal_many(pairs, 1)
    assert used == 1
    for (plaintext, ad), result in zip(pairs, sealed, strict=True):
        if isinstance(result, InvalidRequestError):  # SIV refuses an empty plaintext
            assert key_type == "aes256-siv" and not plaintext
            continue
        text = format_versioned(used, result)
        assert key.decrypt(text, ad) == plaintext
        if key_type == "aes256-siv":  # deterministic: what encrypt_many writes
            assert text.encode() == key.encrypt_many([(plaintext, ad)], 1)[0][0]


@pytest.mark.parametrize("key_type", ["aes256-gcm", "chacha20-poly1305", "aes256-siv"])
def test_open_many_answers_what_decrypt_parsed_answers_each_pair(key_type: str) -> None:
    key = make_key(key_type, versions=3, min_decryption_version=2)
    source = make_key(key_type, versions=3)  # the same material, every version usable
    texts = [source.encrypt(b"p%d" % v, b"", v)[0] for v in (1, 2, 3)]
    version, data = parse_versioned(texts[2])
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    pairs = [parse_versioned(t) for t in texts] + [(9, data), (version, tampered), (2, data)]
    opened = key.open_many(pairs)
    assert len(opened) == len(pairs)
    for (v, d), got in zip(pairs, opened, strict=True):
        try:
            expected: bytes | SealboxError = key.decrypt_parsed(v, d)
        except SealboxError as exc:
            expected = exc
        if isinstance(expected, SealboxError):
            assert type(got) is type(expected)
            assert str(got) == str(expected)
        else:
            assert got == expected
    assert opened[1:3] == [b"p2", b"p3"]
    assert [type(o) for o in opened[3:]] == [InvalidKeyVersionError, DecryptionError,
                                            DecryptionError]  # fmt: skip
    assert isinstance(opened[0], KeyVersionTooOldError)


def test_open_many_refuses_a_type_that_does_not_decrypt() -> None:
    key = make_key("ed25519", versions=1)
    with pytest.raises(UnsupportedOperationError):
        key.open_many([(1, bytes(40))])


@pytest.mark.parametrize(
    ("key_type", "version"), [("aes256-gcm", 3), ("ed25519", 0)]
)  # no such version; a type that does not encrypt
def test_encrypt_many_refuses_a_version_or_type_as_encrypt_does(key_type, version) -> None:
    key = make_key(key_type, versions=2)
    with pytest.raises(SealboxError) as expected:
        key.encrypt(b"p", b"", version)
    with pytest.raises(type(expected.value)) as got:
        key.encrypt_many([(b"p", b"")], version)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize(
    "text",
    ["", "AA==", "AAA=", "AAAA", "A", "AA=", "AA===", "=AAA", "AA=A", "AA AA", "AA\nAA",
     "AA-_", "AA+/", "é===", "AAAA====", "AAAAAA=="],
)  # fmt: skip
def test_decode_b64_is_the_strict_standard_decoder(text: str) -> None:
    from sealbox.transit.formats import decode_b64

    try:
        expected: bytes | None = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error is one
        expected = None
    if expected is None:
        with pytest.raises(InvalidRequestError, match="f is not valid base64"):
            decode_b64(text, "f")
    else:
        assert decode_b64(text, "f") == expected


def _pem(private_key) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    ("key_type", "other"),
    [
        ("ecdsa-p256", "ed25519"),
        ("ed25519", "ecdsa-p256"),
        ("rsa-3072", "ecdsa-p256"),
        ("rsa-3072", "rsa-2048"),
    ],
)
def test_material_of_another_signing_type_or_size_does_not_make_a_key(
    key_type: str, other: str
) -> None:
    # A key is what its type says: an rsa-3072 key holding RSA-2048 material, or an
    # ecdsa-p256 key signing with Ed25519, would mislead every verifier that trusts the type.
    from cryptography.hazmat.primitives.asymmetric import rsa

    foreign = (
        _pem(rsa.generate_private_key(65537, 2048)) if other == "rsa-2048" else material(other)
    )
    with pytest.raises(ValueError, match=key_type) as exc:
        TransitKey.from_versions("k", key_type, {1: (NOW, foreign)})
    assert code(exc) == "bad_key_format"
    assert exc.value.facts["type"] == key_type
    assert foreign.decode() not in str(exc.value)


@pytest.mark.parametrize(
    ("key_type", "size"),
    [("aes256-gcm", 16), ("aes256-gcm", 33), ("chacha20-poly1305", 0), ("aes256-siv", 32)],
)
def test_symmetric_material_of_the_wrong_size_is_a_coded_refusal(key_type: str, size: int) -> None:
    with pytest.raises(ValueError, match=f"{key_type}.*{size}") as exc:
        TransitKey.from_versions("k", key_type, {1: (NOW, b"\x07" * size)})
    assert code(exc) == "bad_key_format"
    assert exc.value.facts == {"type": key_type, "size": str(size)}
