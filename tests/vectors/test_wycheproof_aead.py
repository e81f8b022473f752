"""Wycheproof AES-GCM, ChaCha20-Poly1305 and HMAC-SHA256 vectors through sealbox.hazmat.aead.

sealbox supports 256-bit keys, 96-bit nonces and full 128-bit (AEAD) or 256-bit (HMAC)
tags; groups with other parameters are checked to be refused by the API instead.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sealbox.exceptions import DecryptionError, InvalidSignatureError
from sealbox.hazmat.aead import AES256GCM, HMACSHA256, ChaCha20Poly1305
from tests.conftest import vectors


def _load(name: str) -> dict:
    return json.loads((vectors("wycheproof") / name).read_text())


def _run_aead(cls: type, name: str) -> Counter:
    data = _load(name)
    seen: Counter = Counter()
    for group in data["testGroups"]:
        supported = (group["keySize"], group["ivSize"], group["tagSize"]) == (256, 96, 128)
        for t in group["tests"]:
            key = bytes.fromhex(t["key"])
            if not supported:
                if len(key) != 32:
                    with pytest.raises(ValueError, match="32-byte key"):
                        cls(key)
                seen["unsupported parameters"] += 1
                continue
            iv, aad = bytes.fromhex(t["iv"]), bytes.fromhex(t["aad"])
            msg = bytes.fromhex(t["msg"])
            sealed = iv + bytes.fromhex(t["ct"]) + bytes.fromhex(t["tag"])
            cipher = cls(key)
            if t["result"] == "valid":
                assert cipher.decrypt(sealed, aad) == msg, t["tcId"]
                assert cipher._encrypt_with_nonce(iv, msg, aad) == sealed, t["tcId"]
            elif t["result"] == "invalid":
                with pytest.raises(DecryptionError):
                    cipher.decrypt(sealed, aad)
            else:  # acceptable: either outcome, but never a crash or a wrong plaintext
                try:
                    assert cipher.decrypt(sealed, aad) == msg
                except DecryptionError:
                    pass
            seen[t["result"]] += 1
    assert sum(seen.values()) == data["numberOfTests"]
    return seen


def test_aes_gcm() -> None:
    seen = _run_aead(AES256GCM, "aes_gcm_test.json")
    assert seen["valid"] > 20 and seen["invalid"] > 10, seen


def test_chacha20_poly1305() -> None:
    seen = _run_aead(ChaCha20Poly1305, "chacha20_poly1305_test.json")
    assert seen["valid"] > 20 and seen["invalid"] > 10, seen


def test_hmac_sha256() -> None:
    data = _load("hmac_sha256_test.json")
    seen: Counter = Counter()
    for group in data["testGroups"]:
        for t in group["tests"]:
            key, msg, tag = (bytes.fromhex(t[k]) for k in ("key", "msg", "tag"))
            mac = HMACSHA256(key)
            if group["tagSize"] != 256:
                # Truncated tags are never accepted by sealbox, valid-labelled or not.
                with pytest.raises(InvalidSignatureError):
                    mac.verify(msg, tag)
                seen["truncated tag refused"] += 1
                continue
            if t["result"] == "valid":
                assert mac.sign(msg) == tag
                mac.verify(msg, tag)
            else:
                assert t["result"] == "invalid"
                with pytest.raises(InvalidSignatureError):
                    mac.verify(msg, tag)
            seen[t["result"]] += 1
    assert sum(seen.values()) == data["numberOfTests"]
    assert seen["valid"] > 10 and seen["invalid"] > 10, seen


def test_vectors_are_not_copied_into_the_project() -> None:
    root = Path(__file__).resolve().parents[2]
    assert not list(root.glob("tests/**/*_test.json"))
