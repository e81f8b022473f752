"""Careless and hostile calls into the library: corrupt input raises a sealbox error with a
code, never an exception from inside; no secret reaches a message; wrong kinds of objects
are refused at the boundary with a message that says what to give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import ConfigError, FormatError, KeyFormatError
from sealbox.hazmat import kdf
from sealbox.keys import PrivateKey, PublicKey
from sealbox.keysets.key_sealer import KeySealer
from sealbox.keysets.keyring import Keyring
from sealbox.keysets.sealed import PassphraseSealer
from sealbox.secrets.sealed import SealedFile

LONE = "pass\udcffword"  # a str decoded with surrogateescape: no UTF-8 form
CHEAP_ARGON = kdf.ARGON2ID_TEST


# --- keyring documents ------------------------------------------------------------------


def _document(**changes: object) -> bytes:
    doc = json.loads(Keyring.generate().serialize_unencrypted())
    doc["keys"][0].update(changes)
    doc["primary"] = doc["keys"][0]["id"] if "id" not in changes else doc["primary"]
    return json.dumps(doc).encode()


@pytest.mark.parametrize("key_id", ["-0000001", "+0000001", " 0000001", "0x000001", "0000_001"])
def test_a_keyring_key_id_that_int_would_take_but_is_not_8_hex_digits_is_a_format_error(
    key_id: str,
) -> None:
    with pytest.raises(FormatError) as info:
        Keyring.from_unencrypted(_document(id=key_id))
    assert info.value.code == "bad_format"
    assert "keys[0].id must be 8 hex digits" in str(info.value)


@pytest.mark.parametrize("algorithm", [[], {}, ["aes-256-gcm"]])
def test_a_keyring_algorithm_that_is_not_a_string_is_an_unsupported_algorithm(
    algorithm: object,
) -> None:
    from sealbox.exceptions import UnsupportedAlgorithmError

    with pytest.raises(UnsupportedAlgorithmError) as info:
        Keyring.from_unencrypted(_document(algorithm=algorithm))
    assert info.value.code == "unsupported_algorithm"


HOSTILE_JSON = {
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "an int past Python's digit limit": b'{"format": ' + b"1" * 5000 + b"}",
}


@pytest.mark.parametrize("data", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
def test_hostile_json_is_a_format_error_for_keyrings_and_sealed_documents(data: bytes) -> None:
    with pytest.raises(FormatError):
        Keyring.from_unencrypted(data)
    with pytest.raises(FormatError):
        PassphraseSealer("pw", format="f", kdf_params=CHEAP_ARGON).open(data)
    with pytest.raises(FormatError):
        KeySealer(bytes(32), "f").open(data)


def test_a_key_sealed_document_whose_data_is_not_ascii_is_a_format_error() -> None:
    sealer = KeySealer(bytes(32), "f")
    doc = json.loads(sealer.seal(b"x"))
    doc["data"] = "é" * 8
    with pytest.raises(FormatError) as info:
        sealer.open(json.dumps(doc).encode())
    assert str(info.value) == "the sealed document has no valid data"


@pytest.mark.parametrize("passphrase", [1234, [1, 2], 1.5])
def test_a_passphrase_that_is_not_text_or_bytes_is_refused_not_turned_into_bytes(
    tmp_path: Path, passphrase: object
) -> None:
    # bytes(1234) is 1234 zero bytes: the keyring would have been sealed under those.
    with pytest.raises(TypeError, match="passphrase must be str, bytes or Secret"):
        Keyring.generate().save(tmp_path / "ring", passphrase=passphrase, kdf_params=CHEAP_ARGON)  # type: ignore[arg-type]
    assert not (tmp_path / "ring").exists()


def test_a_keyring_passphrase_with_a_lone_surrogate_is_a_config_error_that_quotes_nothing(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as info:
        Keyring.generate().save(tmp_path / "ring", passphrase=LONE, kdf_params=CHEAP_ARGON)
    assert info.value.code == "bad_passphrase"
    assert "pass" not in str(info.value).replace("passphrase", "")
    assert not (tmp_path / "ring").exists()


def test_seal_text_of_a_str_with_a_lone_surrogate_is_a_config_error_that_quotes_nothing() -> None:
    # A str decoded with errors='surrogateescape' (or JSON's "\udcff"): its UnicodeEncodeError
    # would quote the character, a piece of the value being sealed.
    ring = Keyring.generate()
    with pytest.raises(ConfigError) as info:
        ring.seal_text("s3cr3t\udcff")
    error = info.value
    assert isinstance(error, ValueError)  # as UnicodeEncodeError was, for callers catching it
    assert error.code == "bad_value"
    assert "lone surrogate" in str(error)
    said = f"{error!s} {error!r} {error.hint} {error.facts}"
    assert "s3cr3t" not in said and "\udcff" not in said and "udcff" not in said.lower()
    assert error.__cause__ is None and error.__suppress_context__
    assert ring.open_text(ring.seal_text("caf\u00e9 \U0001f511")) == "caf\u00e9 \U0001f511".encode()


# --- public keys --------------------------------------------------------------------------


def test_wrapping_a_pyca_public_key_as_a_private_key_is_a_key_format_error() -> None:
    key = PrivateKey.generate("ed25519")
    with pytest.raises(KeyFormatError) as info:
        PrivateKey.from_cryptography(key.public_key.cryptography_key())
    assert info.value.code == "public_key_as_private"


def test_wrapping_a_pyca_private_key_as_a_public_key_is_a_key_format_error() -> None:
    key = PrivateKey.generate("ed25519")
    with pytest.raises(KeyFormatError) as info:
        PublicKey.from_cryptography(key.expose_private_key())
    assert info.value.code == "private_key_as_public"


@pytest.mark.parametrize("fmt", ["pem", "openssh"])
def test_a_key_file_passphrase_with_a_lone_surrogate_is_a_config_error(fmt: str) -> None:
    key = PrivateKey.generate("ed25519")
    cheap = {"bcrypt_rounds": 1, "scrypt": kdf.ScryptParams(log_n=4, r=8, p=1)}
    with pytest.raises(ConfigError) as info:
        key.export_private(LONE, format=fmt, **cheap)  # type: ignore[arg-type]
    assert info.value.code == "bad_passphrase"
    encrypted = key.export_private("right", format=fmt, **cheap)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as info:
        PrivateKey.from_bytes(encrypted, lambda: LONE)
    assert info.value.code == "bad_passphrase"


def test_key_text_with_a_lone_surrogate_is_a_key_format_error() -> None:
    line = PrivateKey.generate("ed25519").public_key.openssh()
    with pytest.raises(KeyFormatError) as info:
        PublicKey.from_bytes(line + " \udcff")
    assert info.value.code == "bad_key_format"
    with pytest.raises(KeyFormatError):
        PrivateKey.from_bytes("\udcff")


# --- age ------------------------------------------------------------------------------------


def test_recipient_strings_given_to_encrypt_are_refused_with_what_to_do() -> None:
    me = age.X25519Identity.generate()
    with pytest.raises(TypeError, match=r"parsed first \(sealbox\.age\.parse_recipient\)"):
        age.encrypt(b"x", [str(me.recipient())])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not one str"):
        age.encrypt(b"x", str(me.recipient()))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"give identity\.recipient\(\)"):
        age.encrypt(b"x", [me])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not one X25519Recipient"):
        age.encrypt(b"x", me.recipient())  # type: ignore[arg-type]


def test_a_lone_identity_or_an_identity_string_given_to_decrypt_is_refused() -> None:
    me = age.X25519Identity.generate()
    blob = age.encrypt(b"x", [me.recipient()])
    with pytest.raises(TypeError, match="not one X25519Identity"):
        age.decrypt(blob, me)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="parse_identity") as info:
        age.decrypt(blob, [me.expose_secret()])  # type: ignore[list-item]
    assert me.expose_secret() not in str(info.value)
    assert age.decrypt(blob, [me]) == b"x"


def test_an_age_passphrase_with_a_lone_surrogate_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        age.ScryptRecipient(LONE, work_factor=2)
    assert info.value.code == "bad_passphrase"
    blob = age.encrypt(b"x", [age.ScryptRecipient("pw", work_factor=2)])
    with pytest.raises(ConfigError):
        age.decrypt(blob, [age.ScryptIdentity(lambda: LONE)])


def test_an_encrypted_identity_file_opens_with_the_passphrase_itself_not_only_a_function() -> None:
    me = age.X25519Identity.generate()
    sealed = age.encrypt(age.identity_file(me).encode(), [age.ScryptRecipient("pw", work_factor=2)])
    assert age.parse_identities(sealed, passphrase="pw")[0].recipient() == me.recipient()
    assert age.parse_identities(sealed, passphrase=lambda: "pw")[0].recipient() == me.recipient()


def test_wrong_types_for_recipient_and_identity_text_are_refused_at_the_boundary() -> None:
    me = age.X25519Identity.generate()
    with pytest.raises(TypeError, match="a recipient is a str, not bytes"):
        age.parse_recipient(str(me.recipient()).encode())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="content is bytes, not str"):
        age.parse_identities(me.expose_secret())  # type: ignore[arg-type]
    view = memoryview(me.expose_secret().encode())
    assert age.parse_identities(view)[0].recipient() == me.recipient()  # type: ignore[arg-type]


# --- sealed secrets files -----------------------------------------------------------------


def test_a_secret_value_with_a_lone_surrogate_is_a_config_error_quoting_no_character(
    tmp_path: Path,
) -> None:
    me = age.X25519Identity.generate()
    sealed = SealedFile.create(tmp_path / "s.env", [str(me.recipient())])
    with pytest.raises(ConfigError) as info:
        sealed.set("TOKEN", "s3cr3t\udcff")
    assert info.value.code == "bad_value"
    assert info.value.facts == {"name": "TOKEN"}
    assert "s3cr3t" not in str(info.value) and "\\udcff" not in str(info.value)
    assert "TOKEN" not in sealed


@pytest.mark.parametrize("value", [b"bytes", None, 5])
def test_a_secret_value_that_is_not_text_is_a_type_error_naming_the_type(
    tmp_path: Path, value: object
) -> None:
    me = age.X25519Identity.generate()
    sealed = SealedFile.create(tmp_path / "s.env", [str(me.recipient())])
    with pytest.raises(TypeError, match=f"must be a str, not {type(value).__name__}"):
        sealed.set("TOKEN", value)  # type: ignore[arg-type]


def test_creating_a_secrets_file_for_one_recipient_string_or_recipient_objects_is_refused(
    tmp_path: Path,
) -> None:
    me = age.X25519Identity.generate()
    with pytest.raises(TypeError, match="not one str"):
        SealedFile.create(tmp_path / "s.env", str(me.recipient()))
    with pytest.raises(TypeError, match="not X25519Recipient"):
        SealedFile.create(tmp_path / "s.env", [me.recipient()])  # type: ignore[list-item]
