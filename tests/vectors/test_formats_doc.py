"""The vectors printed in docs/formats.md, checked against sealbox and an independent computation."""

from __future__ import annotations

import base64
import json
import re

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV, AESSIV, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealbox import DecryptionError, Keyring
from sealbox.keysets.fields import decode_token, encode_token
from tests.conftest import ROOT

DOC = ROOT / "docs" / "formats.md"
_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def doc_vectors(kind: str) -> list[dict]:
    found = []
    for block in _BLOCK.findall(DOC.read_text()):
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            continue  # illustrative blocks with placeholders
        if isinstance(obj, dict) and obj.get("vector") == kind:
            found.append(obj)
    return found


def test_doc_has_vectors() -> None:
    assert doc_vectors("sealed-token")
    assert doc_vectors("sealed-keyring")


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _ring(material: bytes, key_id: str, algorithm: str) -> Keyring:
    doc = {
        "format": "sealbox-keyring/1",
        "primary": key_id,
        "keys": [
            {
                "id": key_id,
                "algorithm": algorithm,
                "state": "enabled",
                "created": "2026-11-28T00:00:00Z",
                "material": _b64u(material),
            }
        ],
    }
    return Keyring.from_unencrypted(json.dumps(doc).encode())


def _hkdf(material: bytes, info: str, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, None, f"sealbox-keyring/1 {info}".encode()).derive(
        material
    )


@pytest.mark.parametrize("vector", doc_vectors("sealed-token"))
def test_sealed_token_vectors(vector: dict) -> None:
    material = bytes.fromhex(vector["material"])
    key_id = bytes.fromhex(vector["key_id"])
    plaintext = vector["plaintext"].encode()
    aad = vector["associated_data"].encode()
    nonce = bytes.fromhex(vector["nonce"])

    # The derived keys, recomputed with plain HKDF.
    for info, expected in vector["derived_keys"].items():
        length = len(bytes.fromhex(expected))
        assert _hkdf(material, info, length).hex() == expected

    # Version 1, every algorithm: recompute with plain pyca, then open with sealbox.
    ciphers = {
        "aes-256-gcm": AESGCM,
        "chacha20-poly1305": ChaCha20Poly1305,
        "aes-256-gcm-siv": AESGCMSIV,
    }
    for algorithm, token_hex in vector["tokens"].items():
        header = b"\x01" + key_id
        key = _hkdf(material, f"seal {algorithm}", 32)
        independent = (
            header + nonce + ciphers[algorithm](key).encrypt(nonce, plaintext, header + aad)
        )
        assert independent.hex() == token_hex
        ring = _ring(material, vector["key_id"], algorithm)
        assert ring.open(bytes.fromhex(token_hex), aad) == plaintext
        with pytest.raises(DecryptionError):
            ring.open(bytes.fromhex(token_hex), aad + b"x")

    # Text form.
    token = bytes.fromhex(vector["tokens"]["aes-256-gcm"])
    assert encode_token(token) == vector["text_token"]
    assert decode_token(vector["text_token"]) == token

    # Version 2: fully deterministic, so sealbox must reproduce it exactly.
    ring = _ring(material, vector["key_id"], "aes-256-gcm")
    det = bytes.fromhex(vector["deterministic_token"])
    header = b"\x02" + key_id
    siv = AESSIV(_hkdf(material, "deterministic", 64))
    assert header + siv.encrypt(plaintext, [header, aad]) == det
    assert ring.seal_deterministic(plaintext, aad) == det
    assert ring.open(det, aad) == plaintext

    # Blind index.
    bidx = vector["blind_index"]
    context = bidx["context"].encode()
    mac = hmac.HMAC(_hkdf(material, "blind-index", 32), hashes.SHA256())
    mac.update(len(context).to_bytes(4, "big") + context + bidx["value"].encode())
    assert mac.finalize().hex() == bidx["digest"]
    assert ring.blind_index(bidx["value"].encode(), context).hex() == bidx["digest"]


@pytest.mark.parametrize("vector", doc_vectors("sealed-keyring"))
def test_sealed_keyring_vectors(vector: dict) -> None:
    data = json.dumps(vector["file"]).encode()
    ring = Keyring.decrypt(data, vector["passphrase"])
    assert ring.primary_id == int(vector["primary"], 16)
    # Independent: Argon2id + AES-256-GCM over the canonical header.
    f = vector["file"]
    kdf = f["kdf"]
    salt = base64.urlsafe_b64decode(kdf["salt"] + "==")
    key = hash_secret_raw(
        vector["passphrase"].encode(),
        salt,
        time_cost=kdf["time_cost"],
        memory_cost=kdf["memory_cost"],
        parallelism=kdf["parallelism"],
        hash_len=32,
        type=Type.ID,
    )
    header = {"format": f["format"], "kdf": kdf, "cipher": f["cipher"]}
    aad = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    body = base64.urlsafe_b64decode(f["data"] + "=" * (-len(f["data"]) % 4))
    inner = json.loads(AESGCM(key).decrypt(body[:12], body[12:], aad))
    assert inner["primary"] == vector["primary"]
    material = base64.urlsafe_b64decode(inner["keys"][0]["material"] + "=")
    assert material.hex() == vector["material"]
    with pytest.raises(DecryptionError):
        Keyring.decrypt(data, vector["passphrase"] + " ")
