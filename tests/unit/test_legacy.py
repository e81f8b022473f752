"""The original recipes' records, made here the way those recipes made them, read by sealbox."""

from __future__ import annotations

import base64
import json
import os

import pytest

from sealbox import age
from sealbox.exceptions import ConfigError, DecryptionError, FormatError, KeyFormatError
from sealbox.keysets import legacy
from sealbox.keysets.legacy import LegacyFormat
from sealbox.secret import Secret
from tests._legacy_records import (
    aes_gcm_json,
    aes_gcm_raw,
    aes_gcm_record,
    fernet_file,
    fernet_json,
    recipe_fernet_key,
)

PLAIN = b"quarterly numbers\n" * 100
PASSWORD = b"old password"


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def test_the_fernet_key_is_the_recipes_pbkdf2_derivation():
    salt = os.urandom(16)
    assert legacy.fernet_key(PASSWORD, salt) == recipe_fernet_key(PASSWORD, salt)
    assert legacy.fernet_key(Secret("old password"), salt) == recipe_fernet_key(PASSWORD, salt)


def test_a_fernet_file_is_detected_and_decrypted():
    data = fernet_file(PASSWORD, PLAIN)
    assert legacy.detect(data) is LegacyFormat.FERNET_FILE
    assert legacy.decrypt(data, password="old password") == PLAIN
    assert legacy.decrypt(data, password=Secret(PASSWORD)) == PLAIN


@pytest.mark.parametrize("token_as", ["base64", "hex", "text"])
def test_a_fernet_json_record_is_read_whatever_the_tokens_encoding(token_as):
    data = fernet_json(PASSWORD, PLAIN, token_as=token_as)
    assert legacy.detect(data) is LegacyFormat.FERNET_JSON
    assert legacy.decrypt(data, password="old password") == PLAIN


def test_a_json_record_saved_with_a_utf8_byte_order_mark_is_read():
    data = b"\xef\xbb\xbf" + fernet_json(PASSWORD, PLAIN, token_as="base64")
    assert legacy.detect(data) is LegacyFormat.FERNET_JSON
    assert legacy.sniff(data) is LegacyFormat.FERNET_JSON
    assert legacy.decrypt(data, password="old password") == PLAIN


@pytest.mark.parametrize("encoding", ["hex", "base64", "urlsafe"])
def test_an_aes_gcm_json_record_is_read_in_hex_or_base64(key, encoding):
    data = aes_gcm_json(key, PLAIN, encoding=encoding)
    assert legacy.detect(data) is LegacyFormat.AES_GCM_JSON
    assert legacy.decrypt(data, key=key) == PLAIN
    assert legacy.decrypt_aes_gcm(data, Secret(key)) == PLAIN


def test_a_hex_record_whose_ciphertext_is_also_valid_base64_is_read_as_hex(key):
    # Hex digits are base64 characters: the iv and tag sizes, not the ciphertext, decide.
    data = aes_gcm_json(key, PLAIN[:24], encoding="hex")
    base64.b64decode(json.loads(data)["ciphertext"], validate=True)
    assert legacy.decrypt(data, key=key) == PLAIN[:24]


def test_upper_case_hex_and_an_empty_plaintext_are_read(key):
    record = aes_gcm_record(key, b"")
    doc = {k: v.hex().upper() for k, v in record.items()}
    assert legacy.decrypt(json.dumps(doc).encode(), key=key) == b""


def test_the_recipes_own_dict_of_bytes_is_read(key):
    assert legacy.decrypt_aes_gcm(aes_gcm_record(key, PLAIN), key) == PLAIN


def test_a_raw_aes_gcm_record_is_read_when_its_layout_is_named(key):
    data = aes_gcm_raw(key, PLAIN)
    assert legacy.decrypt(data, key=key, format=LegacyFormat.AES_GCM_RAW) == PLAIN
    assert legacy.decrypt(data, key=key, format="aes-gcm-raw") == PLAIN
    assert legacy.decrypt_aes_gcm_raw(data, Secret(key)) == PLAIN


def test_a_raw_aes_gcm_record_is_never_guessed(key):
    data = aes_gcm_raw(key, PLAIN)
    with pytest.raises(FormatError) as info:
        legacy.detect(data)
    assert info.value.code == "legacy_layout_unknown"
    with pytest.raises(FormatError) as info:
        legacy.decrypt(data, key=key)
    assert info.value.code == "legacy_layout_unknown"
    assert "raw AES-GCM" in str(info.value)


def test_a_raw_record_that_starts_like_json_is_refused_with_the_raw_layout_named(key):
    data = b"{" + aes_gcm_raw(key, PLAIN)[1:]
    with pytest.raises(FormatError) as info:
        legacy.detect(data)
    assert info.value.code == "legacy_layout_unknown"
    assert "raw AES-GCM record" in str(info.value)


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (lambda k: fernet_file(PASSWORD, PLAIN), None),
        (lambda k: fernet_json(PASSWORD, PLAIN), None),
        (lambda k: aes_gcm_json(k, PLAIN, encoding="hex"), None),
        (lambda k: aes_gcm_raw(k, PLAIN), LegacyFormat.AES_GCM_RAW),
    ],
    ids=["fernet-file", "fernet-json", "aes-gcm-json", "aes-gcm-raw"],
)
def test_a_wrong_password_or_key_gets_the_same_opaque_error(key, make, fmt):
    with pytest.raises(DecryptionError) as info:
        legacy.decrypt(make(key), password="nope", key=os.urandom(32), format=fmt)
    assert str(info.value) == "cannot decrypt: wrong password or key, or the data was altered"


def test_a_cut_short_fernet_file_fails_authentication_or_format():
    data = fernet_file(PASSWORD, PLAIN)
    with pytest.raises(DecryptionError):
        legacy.decrypt(data[:-10], password="old password")
    with pytest.raises(FormatError):
        legacy.decrypt_fernet_file(data[:16], "old password")


def test_a_cut_short_json_record_is_a_format_error(key):
    with pytest.raises(FormatError, match="cut short"):
        legacy.decrypt(aes_gcm_json(key, PLAIN)[:-20], key=key)
    with pytest.raises(FormatError, match="cut short"):
        legacy.decrypt(fernet_json(PASSWORD, PLAIN)[:-5], password="x")


def test_a_cut_short_raw_record_fails_authentication_or_is_too_short(key):
    data = aes_gcm_raw(key, PLAIN)
    with pytest.raises(DecryptionError):
        legacy.decrypt(data[:-1], key=key, format="aes-gcm-raw")
    with pytest.raises(FormatError, match="at least 28 bytes"):
        legacy.decrypt(data[:27], key=key, format="aes-gcm-raw")


def test_mixed_encodings_and_wrong_sizes_are_format_errors(key):
    record = aes_gcm_record(key, PLAIN)
    b64 = {k: base64.b64encode(v).decode() for k, v in record.items()}
    hexed = {k: v.hex() for k, v in record.items()}
    for doc in (
        {**hexed, "tag": b64["tag"]},
        {**b64, "iv": hexed["iv"]},
        {**hexed, "ciphertext": b64["ciphertext"] + "=="},
        {**b64, "iv": base64.b64encode(os.urandom(16)).decode()},
        {**b64, "tag": 12},
    ):
        with pytest.raises(FormatError):
            legacy.decrypt(json.dumps(doc).encode(), key=key)


def test_json_with_other_keys_is_not_a_legacy_record():
    with pytest.raises(FormatError, match="expected the keys") as info:
        legacy.detect(b'{"nonce": "00", "data": "11"}')
    assert info.value.code == "bad_format"
    with pytest.raises(FormatError) as info:
        legacy.detect(b"[1, 2]")
    assert info.value.code == "legacy_layout_unknown"


def test_a_fernet_json_ciphertext_that_is_no_token_is_a_format_error():
    doc = {"salt": base64.b64encode(os.urandom(16)).decode(), "ciphertext": "abcd"}
    with pytest.raises(FormatError, match="not a Fernet token"):
        legacy.decrypt(json.dumps(doc).encode(), password="pw")


def test_the_missing_secret_is_named_by_its_code(key):
    with pytest.raises(ConfigError) as info:
        legacy.decrypt(aes_gcm_json(key, PLAIN), password="pw")
    assert info.value.code == "key_file_needed"
    with pytest.raises(ConfigError) as info:
        legacy.decrypt(fernet_file(PASSWORD, PLAIN), key=key)
    assert info.value.code == "passphrase_needed"
    with pytest.raises(ConfigError, match="32 bytes"):
        legacy.decrypt(aes_gcm_json(key, PLAIN), key=key[:16])
    with pytest.raises(ConfigError, match="unknown legacy layout 'aes'"):
        legacy.decrypt(b"x" * 40, key=key, format="aes")


def test_an_age_file_is_told_apart_from_a_legacy_record():
    me = age.X25519Identity.generate()
    for armor in (False, True):
        data = age.encrypt(b"x", [me.recipient()], armor=armor)
        with pytest.raises(FormatError) as info:
            legacy.detect(data)
        assert info.value.code == "age_file_not_legacy"
        assert legacy.sniff(data) is None


def test_a_salt_that_looks_like_json_is_still_a_fernet_file():
    # 16 random salt bytes start with "{" (after whitespace) about once in 200 files.
    for salt in (b"{" + bytes(15), b" \n\t{" + bytes(12), b'{"salt": "x", "c'):
        data = fernet_file(PASSWORD, PLAIN, salt)
        assert legacy.detect(data) is LegacyFormat.FERNET_FILE
        assert legacy.sniff(data) is LegacyFormat.FERNET_FILE
        assert legacy.decrypt(data, password="old password") == PLAIN


def test_sniff_recognises_the_start_of_each_recognisable_layout(key):
    big = os.urandom(200_000)
    records = {
        LegacyFormat.FERNET_FILE: fernet_file(PASSWORD, big),
        LegacyFormat.FERNET_JSON: fernet_json(PASSWORD, big),
        LegacyFormat.AES_GCM_JSON: aes_gcm_json(key, big, encoding="hex"),
    }
    for fmt, data in records.items():
        assert legacy.sniff(data) is fmt
        assert legacy.sniff(data[:4096]) is fmt  # a head that ends inside the record
    assert legacy.sniff(aes_gcm_raw(key, PLAIN)[:4096]) is None
    assert legacy.sniff(b"plain text\n") is None
    assert legacy.sniff(b'{"name": "not a record"}') is None
    assert legacy.sniff(b"") is None


def test_raise_if_legacy_names_the_layout_and_quotes_nothing_of_the_record(key):
    data = aes_gcm_json(key, PLAIN, encoding="hex")
    with pytest.raises(FormatError) as info:
        legacy.raise_if_legacy(data[:4096], path="old/rec.json")
    err = info.value
    assert err.code == "legacy_file"
    assert err.facts == {"path": "old/rec.json", "format": "aes-gcm-json"}
    assert str(err) == (
        "old/rec.json is not an age file: it is a record of the original recipes (aes-gcm-json)"
    )
    assert json.loads(data)["iv"] not in str(err) + (err.hint or "")
    with pytest.raises(FormatError, match=r"^the input is not an age file") as info:
        legacy.raise_if_legacy(fernet_file(PASSWORD, PLAIN))
    assert info.value.facts["path"] == "-"
    legacy.raise_if_legacy(b"not a record")  # returns: nothing to say


def test_parse_key_reads_raw_hex_and_base64_keys(key):
    for data in (
        key,
        key.hex().encode(),
        key.hex().upper().encode() + b"\n",
        base64.b64encode(key) + b"\n",
        base64.urlsafe_b64encode(key).rstrip(b"="),
    ):
        assert legacy.parse_key(data).expose_secret() == key
    # A raw key ending in a whitespace byte keeps it.
    spaced = key[:31] + b"\n"
    assert legacy.parse_key(spaced).expose_secret() == spaced


def test_parse_key_refuses_other_sizes_without_quoting_them(key):
    for data in (key[:20].hex().encode(), b"correct horse battery staple", key + b"xx"):
        with pytest.raises(KeyFormatError) as info:
            legacy.parse_key(data)
        assert data.decode("latin-1")[:8] not in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda k: fernet_file(PASSWORD, PLAIN),
        lambda k: fernet_json(PASSWORD, PLAIN),
        lambda k: aes_gcm_json(k, PLAIN, encoding="hex"),
        lambda k: aes_gcm_raw(k, PLAIN),
    ],
    ids=["fernet-file", "fernet-json", "aes-gcm-json", "aes-gcm-raw"],
)
def test_an_age_reader_refuses_a_legacy_record_without_quoting_it(key, make):
    data = make(key)
    with pytest.raises(FormatError) as info:
        age.decrypt(data, [age.X25519Identity.generate()])
    assert info.value.code == "not_an_age_file"
    assert str(info.value) == "not an age file: it does not start with 'age-encryption.org/v1'"


@pytest.mark.parametrize("ending", [b"", b"\n"])
def test_a_bare_fernet_token_made_with_a_fernet_key_is_named_not_taken_for_raw_bytes(ending):
    from cryptography.fernet import Fernet, MultiFernet

    old, new = Fernet(Fernet.generate_key()), Fernet(Fernet.generate_key())
    tokens = [
        old.encrypt(b"x"),  # the shortest token there is
        old.encrypt(PLAIN),
        MultiFernet([new, old]).rotate(old.encrypt(PLAIN)),
    ]
    for token in tokens:
        data = token + ending
        with pytest.raises(FormatError) as caught:
            legacy.detect(data)
        assert caught.value.code == "legacy_fernet_token"
        assert "Fernet(key)" in (caught.value.hint or "")
        assert token.decode()[:20] not in str(caught.value)
        # Named as a file of the recipe, its first characters would pass for the salt and
        # any password would seem wrong: the same error says what it is instead.
        for fmt in (None, LegacyFormat.FERNET_FILE):
            with pytest.raises(FormatError) as caught:
                legacy.decrypt(data, password=PASSWORD, format=fmt)
            assert caught.value.code == "legacy_fernet_token"


def test_a_fernet_file_whose_salt_reads_like_a_token_is_still_a_fernet_file():
    salt = b"gAAAAABkZXRlY3Q="[:16]
    data = fernet_file(PASSWORD, PLAIN, salt=salt)
    assert legacy.detect(data) is LegacyFormat.FERNET_FILE
    assert legacy.decrypt(data, password=PASSWORD) == PLAIN


def _padded_token_and_salt(plain: bytes) -> tuple[bytes, bytes]:
    """A recipe token that ends in base64 padding (two tokens in three do)."""
    from tests._legacy_records import fernet_token

    while True:
        salt = os.urandom(16)
        token = fernet_token(PASSWORD, plain, salt)
        if token.endswith(b"="):
            return salt, token


@pytest.mark.parametrize("layout", ["file", "json-text", "json-base64", "json-hex"])
def test_a_fernet_token_stored_without_its_base64_padding_is_read(layout):
    # Stores that trim "=" (URLs, some columns) left a token Fernet refuses, reported as
    # a wrong password whatever the password.
    plain = b"x" * 20  # a 32-byte ciphertext: a token of 89 bytes, padded with one "="
    salt, token = _padded_token_and_salt(plain)
    bare = token.rstrip(b"=")
    data = {
        "file": salt + bare,
        "json-text": json.dumps({"salt": salt.hex(), "ciphertext": bare.decode()}).encode(),
        "json-base64": json.dumps(
            {"salt": base64.b64encode(salt).decode(), "ciphertext": base64.b64encode(bare).decode()}
        ).encode(),
        "json-hex": json.dumps({"salt": salt.hex(), "ciphertext": bare.hex()}).encode(),
    }[layout]
    assert legacy.decrypt(data, password=PASSWORD) == plain
    with pytest.raises(DecryptionError):
        legacy.decrypt(data, password=b"not it")


def test_a_fernet_token_wrapped_over_lines_or_ended_with_crlf_is_read():
    salt, token = _padded_token_and_salt(PLAIN)
    wrapped = b"\r\n".join(token[i : i + 76] for i in range(0, len(token), 76))
    assert legacy.decrypt(salt + wrapped + b"\r\n", password=PASSWORD) == PLAIN
    assert legacy.decrypt(salt + wrapped.rstrip(b"="), password=PASSWORD) == PLAIN


def test_a_fernet_token_of_any_age_is_read_even_from_a_clock_ahead():
    # A migration reads every token it finds: no ttl is applied, and neither is Fernet's
    # 60-second allowance for a clock ahead, which is checked only with a ttl.
    import time

    from cryptography.fernet import Fernet

    for made_at in (1, int(time.time()) - 10 * 365 * 86400, int(time.time()) + 86400):
        salt = os.urandom(16)
        token = Fernet(recipe_fernet_key(PASSWORD, salt)).encrypt_at_time(PLAIN, made_at)
        assert legacy.decrypt(salt + token, password=PASSWORD) == PLAIN


def test_the_password_is_the_same_as_str_bytes_or_a_secret_of_either():
    password = "mot de passe é"
    data = fernet_file(password.encode(), PLAIN)  # the recipe encoded str as UTF-8
    for given in (password, password.encode(), Secret(password), Secret(password.encode())):
        assert legacy.decrypt(data, password=given) == PLAIN
