"""Envelopes checked by the real `age` CLI: the age provider's wrapped key and the stream payload.

- The wrapped data key of an age-provider envelope is an ordinary age file: `age -d`
  opens it with a key made by `age-keygen`, and the data then decrypts with plain pyca.
- A stream envelope's data is an age v1 payload: put behind an age header that
  carries the same file key, `age -d` decrypts it.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox import age
from sealbox.age.format import Header
from sealbox.keysets.envelope import (
    AgeProvider,
    EnvelopeCipher,
    KeyringProvider,
    inspect,
    parse_header,
)
from sealbox.keysets.envelope.format import MAGIC
from sealbox.keysets.envelope.providers import WRAP_ASSOCIATED_DATA
from sealbox.keysets.keyring import Keyring
from tests.conftest import require_tool

pytestmark = pytest.mark.interop


def _run(args: list[str], **kw) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, check=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def age_key(tmp_path_factory) -> tuple[Path, str]:
    require_tool("age")
    require_tool("age-keygen")
    d = tmp_path_factory.mktemp("keys")
    _run(["age-keygen", "-o", str(d / "age.key")])
    recipient = _run(["age-keygen", "-y", str(d / "age.key")]).stdout.decode().strip()
    return d / "age.key", recipient


def test_age_cli_unwraps_the_data_key(age_key, tmp_path) -> None:
    key_file, recipient = age_key
    cipher = EnvelopeCipher(AgeProvider([age.parse_recipient(recipient)]))
    data, aad = b"envelope opened with age and pyca", b"objects/1"
    env = cipher.encrypt(data, aad)
    header, size = parse_header(env)
    wrapped = tmp_path / "wrapped.age"
    wrapped.write_bytes(header.wrapped.ciphertext)
    blob = _run(["age", "-d", "-i", str(key_file), str(wrapped)]).stdout
    data_key, binding = blob[:32], blob[32:]
    label = b"sealbox-envelope/1 associated data\x00"
    assert binding == hashlib.sha256(label + b"\x01" + aad).digest()
    body = env[size:]
    plain = AESGCM(data_key).decrypt(body[:12], body[12:], MAGIC + b"\x01" + aad)
    assert plain == data
    # And sealbox opens it with the same key file.
    ours = EnvelopeCipher(AgeProvider(identities=age.load_identities(key_file)))
    assert ours.decrypt(env, aad) == data


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 3 * 65536 + 5])
def test_stream_payload_is_an_age_payload(age_key, tmp_path, size) -> None:
    key_file, recipient = age_key
    ring = Keyring.generate()
    cipher = EnvelopeCipher(KeyringProvider(ring))
    data = os.urandom(size)
    out = io.BytesIO()
    with cipher.encryptor(out, b"blob") as w:
        w.write(data)
    env = out.getvalue()
    header, hsize = parse_header(env)
    assert inspect(env).mode == "stream"
    file_key = ring.open(header.wrapped.ciphertext, WRAP_ASSOCIATED_DATA)[:16]
    # The same payload behind an age header for the `age` CLI's key.
    stanzas = age.parse_recipient(recipient).wrap(file_key)
    age_file = tmp_path / "as.age"
    age_file.write_bytes(Header.build(stanzas, file_key).to_bytes() + env[hsize:])
    assert _run(["age", "-d", "-i", str(key_file), str(age_file)]).stdout == data
