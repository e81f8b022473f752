"""A JSON record whose base64 fields were wrapped over lines is read as the recipes read it.

``base64.encodebytes`` and ``openssl base64`` break their output every 76 or 64
characters; the recipes decoded with ``base64.b64decode``, which skips the line breaks.
"""

from __future__ import annotations

import base64
import json
import os

import pytest

from sealbox.exceptions import DecryptionError
from sealbox.keysets import legacy
from tests._legacy_records import aes_gcm_record, fernet_token

PLAIN = b"quarterly numbers\n" * 20
PASSWORD = b"old password"


def _wrapped(data: bytes, width: int) -> str:
    text = base64.b64encode(data).decode()
    return "\n".join(text[i : i + width] for i in range(0, len(text), width)) + "\n"


@pytest.mark.parametrize("width", [64, 76])
def test_a_fernet_json_token_in_base64_wrapped_over_lines_is_read(width):
    salt = os.urandom(16)
    token = fernet_token(PASSWORD, PLAIN, salt)
    doc = {"salt": base64.encodebytes(salt).decode(), "ciphertext": _wrapped(token, width)}
    assert base64.b64decode(doc["ciphertext"]) == token  # as the recipe read it
    data = json.dumps(doc).encode()
    assert legacy.decrypt(data, password=PASSWORD) == PLAIN
    with pytest.raises(DecryptionError):
        legacy.decrypt(data, password=b"not it")


def test_an_aes_gcm_json_ciphertext_in_base64_wrapped_over_lines_is_read():
    key = os.urandom(32)
    record = aes_gcm_record(key, PLAIN)
    doc = {name: _wrapped(value, 76) for name, value in record.items()}
    assert legacy.decrypt(json.dumps(doc).encode(), key=key) == PLAIN
