"""The transit vector printed in docs/formats.md, checked with plain pyca calls and with sealbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

from sealbox.transit import TransitKey, open_material, parse_versioned
from tests.conftest import ROOT

DOC = ROOT / "docs" / "formats.md"
_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def _vectors() -> list[dict]:
    found = []
    for block in _BLOCK.findall(DOC.read_text()):
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("vector") == "transit":
            found.append(obj)
    assert found, "docs/formats.md lost its transit vector"
    return found


def _key(key_type: str, version: int, material: bytes) -> TransitKey:
    now = datetime.now(UTC)
    record = SimpleNamespace(
        name="k",
        type=key_type,
        latest_version=version,
        min_decryption_version=1,
        min_encryption_version=0,
        deletion_allowed=False,
        exportable=False,
        created_at=now,
        updated_at=now,
    )
    return TransitKey.build(record, {version: (now, material)})


@pytest.mark.parametrize("vector", _vectors())
def test_transit_vector(vector: dict) -> None:
    master = bytes.fromhex(vector["master_key"])
    material = bytes.fromhex(vector["material"])
    sealed = bytes.fromhex(vector["sealed_material"])
    name, key_type, version = vector["name"], vector["type"], vector["version"]

    # The sealed row, recomputed with plain AES-GCM, and opened by sealbox.
    ad = f"sealbox-transit-key/1\0{name}\0{key_type}\0{version}".encode()
    assert sealed[0] == 1
    assert AESGCM(master).encrypt(sealed[1:13], material, ad) == sealed[13:]
    assert open_material(master, name, key_type, version, sealed) == material

    # The ciphertext: prefix, standard base64, nonce || ciphertext || tag.
    text = vector["ciphertext"]
    prefix, body = text.rsplit(":", 1)
    assert prefix == f"sealbox:v{version}"
    raw = base64.b64decode(body, validate=True)
    plaintext, aad = vector["plaintext"].encode(), vector["associated_data"].encode()
    assert AESGCM(material).encrypt(raw[:12], plaintext, aad) == raw[12:]
    assert _key(key_type, version, material).decrypt(text, aad) == plaintext

    siv = vector["siv"]
    siv_material = bytes.fromhex(siv["material"])
    siv_ad = siv["associated_data"].encode()
    expected = AESSIV(siv_material).encrypt(siv["plaintext"].encode(), [siv_ad])
    assert parse_versioned(siv["ciphertext"]) == (1, expected)
    siv_key = _key("aes256-siv", 1, siv_material)
    assert siv_key.encrypt(siv["plaintext"].encode(), siv_ad) == (siv["ciphertext"], 1)

    mac = vector["hmac"]
    mac_material = bytes.fromhex(mac["material"])
    digest = hmac.new(mac_material, mac["input"].encode(), hashlib.sha256).digest()
    assert parse_versioned(mac["hmac"]) == (1, digest)
    assert _key("hmac", 1, mac_material).hmac(mac["input"].encode()) == (mac["hmac"], 1)
