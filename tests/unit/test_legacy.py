"""The original recipes' formats, made here the way those recipes made them."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox import age
from sealbox.exceptions import ConfigError, DecryptionError, FormatError
from sealbox.keysets import legacy

PLAIN = b"quarterly numbers\n" * 100


def fernet_file(password: bytes) -> bytes:
    salt = os.urandom(16)
    return salt + Fernet(legacy.fernet_key(password, salt)).encrypt(PLAIN)


def fernet_json(password: bytes) -> bytes:
    salt = os.urandom(16)
    token = Fernet(legacy.fernet_key(password, salt)).encrypt(PLAIN)
    doc = {"salt": base64.b64encode(salt).decode(), "ciphertext": base64.b64encode(token).decode()}
    return json.dumps(doc).encode()


def aes_gcm(key: bytes) -> bytes:
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, PLAIN, None)
    doc = {
        "iv": base64.b64encode(iv).decode(),
        "ciphertext": base64.b64encode(sealed[:-16]).decode(),
        "tag": base64.b64encode(sealed[-16:]).decode(),
    }
    return json.dumps(doc).encode()


def test_three_formats():
    assert legacy.detect(fernet_file(b"pw")) is legacy.LegacyFormat.FERNET_FILE
    assert legacy.decrypt(fernet_file(b"pw"), password="pw") == PLAIN
    assert legacy.decrypt(fernet_json(b"pw"), password="pw") == PLAIN
    key = os.urandom(32)
    assert legacy.decrypt(aes_gcm(key), key=key) == PLAIN


def test_errors():
    with pytest.raises(DecryptionError):
        legacy.decrypt(fernet_file(b"pw"), password="nope")
    with pytest.raises(DecryptionError):
        legacy.decrypt(aes_gcm(os.urandom(32)), key=os.urandom(32))
    with pytest.raises(ConfigError):
        legacy.decrypt(aes_gcm(os.urandom(32)))
    with pytest.raises(FormatError):
        legacy.detect(b"just some bytes")


def test_cli_migrate(cli, tmp_path):
    src = tmp_path / "old.bin"
    src.write_bytes(fernet_file(b"old password"))
    me = age.X25519Identity.generate()
    out = tmp_path / "new.age"
    env = {"SEALBOX_PASSPHRASE": "old password"}
    r = cli(["legacy", "migrate", src, "-o", out, "-r", str(me.recipient())], env=env)
    assert r.code == 0, r.stderr
    assert age.decrypt(out.read_bytes(), [me]) == PLAIN
    r = cli(["legacy", "decrypt", src], env=env)
    assert r.code == 0 and r.stdout == PLAIN
    r = cli(["legacy", "decrypt", src], env={"SEALBOX_PASSPHRASE": "wrong"})
    assert r.code == 1 and "wrong password" in r.stderr and r.stdout == b""
    key = os.urandom(32)
    rec = tmp_path / "rec.json"
    rec.write_bytes(aes_gcm(key))
    (tmp_path / "key.hex").write_text(key.hex())
    r = cli(["legacy", "decrypt", rec, "--key-file", tmp_path / "key.hex"])
    assert r.code == 0 and r.stdout == PLAIN


def test_a_salt_that_looks_like_json_is_still_a_fernet_file():
    # 16 random salt bytes start with "{" (after whitespace) about once in 200 files.
    for salt in (b"{" + bytes(15), b" \n\t{" + bytes(12), b'{"salt": "x", "c'):
        assert len(salt) == 16
        password = b"pw"
        token = Fernet(legacy.fernet_key(password, salt)).encrypt(PLAIN)
        data = salt + token
        assert legacy.detect(data) is legacy.LegacyFormat.FERNET_FILE
        assert legacy.decrypt(data, password="pw") == PLAIN
