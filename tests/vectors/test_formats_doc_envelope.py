"""The envelope vectors printed in docs/formats.md, rebuilt independently and opened by sealbox."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealbox.exceptions import DecryptionError
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider, inspect, parse_header
from sealbox.keysets.envelope.vault import _ciphertext
from sealbox.keysets.keyring import Keyring
from tests.vectors.test_formats_doc import doc_vectors

LABEL = b"sealbox-envelope/1 associated data\x00"


def _keyring(material: bytes, key_id: str) -> Keyring:
    doc = {
        "format": "sealbox-keyring/1",
        "primary": key_id,
        "keys": [
            {
                "id": key_id,
                "algorithm": "aes-256-gcm",
                "state": "enabled",
                "created": "2026-11-28T00:00:00Z",
                "material": base64.urlsafe_b64encode(material).rstrip(b"=").decode(),
            }
        ],
    }
    return Keyring.from_unencrypted(json.dumps(doc).encode())


def _header(mode: int, key_id: bytes, wrapped: bytes) -> bytes:
    return (
        b"sbe\x01"
        + bytes([mode, 7])
        + b"keyring"
        + bytes([len(key_id)])
        + key_id
        + bytes(4)
        + len(wrapped).to_bytes(2, "big")
        + wrapped
    )


def _keyring_wrap(vector: dict, blob: bytes) -> bytes:
    """A version-1 keyring token of the key blob, computed by hand."""
    material = bytes.fromhex(vector["keyring_material"])
    seal_key = HKDF(hashes.SHA256(), 32, None, b"sealbox-keyring/1 seal aes-256-gcm").derive(
        material
    )
    head = b"\x01" + bytes.fromhex(vector["keyring_key_id"])
    nonce = bytes.fromhex(vector["wrap_nonce"])
    aad = head + b"sealbox-envelope/1 wrapped key"
    return head + nonce + AESGCM(seal_key).encrypt(nonce, blob, aad)


def _cipher(vector: dict) -> tuple[EnvelopeCipher, Keyring]:
    ring = _keyring(bytes.fromhex(vector["keyring_material"]), vector["keyring_key_id"])
    return EnvelopeCipher(KeyringProvider(ring)), ring


def test_doc_has_the_vectors() -> None:
    assert len(doc_vectors("envelope-sealed")) == 1
    assert len(doc_vectors("envelope-stream")) == 1
    assert len(doc_vectors("envelope-vault-header")) == 1


@pytest.mark.parametrize("vector", doc_vectors("envelope-sealed"))
def test_sealed_vector(vector: dict) -> None:
    aad = vector["associated_data"].encode()
    data_key = bytes.fromhex(vector["data_key"])
    nonce = bytes.fromhex(vector["data_nonce"])
    blob = data_key + hashlib.sha256(LABEL + b"\x01" + aad).digest()
    wrapped = _keyring_wrap(vector, blob)
    body = nonce + AESGCM(data_key).encrypt(
        nonce, vector["plaintext"].encode(), b"sbe\x01\x01" + aad
    )
    independent = _header(1, vector["keyring_key_id"].encode(), wrapped) + body
    assert independent.hex() == vector["envelope"]
    env = bytes.fromhex(vector["envelope"])
    assert base64.urlsafe_b64encode(env).rstrip(b"=").decode() == vector["text"]

    cipher, ring = _cipher(vector)
    assert cipher.decrypt(env, aad) == vector["plaintext"].encode()
    assert cipher.decrypt(vector["text"], aad) == vector["plaintext"].encode()
    with pytest.raises(DecryptionError):
        cipher.decrypt(env, aad + b"x")
    info = inspect(env)
    assert (info.mode, info.provider, info.key_id, info.key_version) == (
        "sealed",
        "keyring",
        "0a0b0c0d",
        None,
    )
    ring.rotate()
    new = cipher.rewrap(env)
    assert new[inspect(new).header_size :] == body
    assert cipher.decrypt(new, aad) == vector["plaintext"].encode()


@pytest.mark.parametrize("vector", doc_vectors("envelope-stream"))
def test_stream_vector(vector: dict) -> None:
    aad = vector["associated_data"].encode()
    file_key = bytes.fromhex(vector["file_key"])
    payload_nonce = bytes.fromhex(vector["payload_nonce"])
    blob = file_key + hashlib.sha256(LABEL + b"\x02" + aad).digest()
    payload_key = HKDF(hashes.SHA256(), 32, payload_nonce, b"payload").derive(file_key)
    chunk = ChaCha20Poly1305(payload_key).encrypt(
        bytes(11) + b"\x01", vector["plaintext"].encode(), None
    )
    independent = (
        _header(2, vector["keyring_key_id"].encode(), _keyring_wrap(vector, blob))
        + payload_nonce
        + chunk
    )
    assert independent.hex() == vector["envelope"]
    cipher, _ = _cipher(vector)
    env = bytes.fromhex(vector["envelope"])
    assert inspect(env).mode == "stream"
    assert cipher.decrypt(env, aad) == vector["plaintext"].encode()
    with pytest.raises(DecryptionError):
        cipher.decrypt(env, b"")


@pytest.mark.parametrize("vector", doc_vectors("envelope-vault-header"))
def test_vault_header_vector(vector: dict) -> None:
    header, size = parse_header(bytes.fromhex(vector["header"]))
    assert size == len(bytes.fromhex(vector["header"]))
    w = header.wrapped
    assert (w.provider, w.key_id, w.version) == ("vault-transit", vector["key"], 3)
    assert _ciphertext(w) == vector["vault_ciphertext"]
    raw = base64.b64decode(vector["vault_ciphertext"].removeprefix("vault:v3:"))
    assert w.ciphertext == raw
