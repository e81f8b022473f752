"""Wycheproof RSA-OAEP, RSA-PSS, Ed25519, ECDSA P-256 and X25519 vectors through sealbox.keys.asymmetric.

Every test is run through sealbox's own API (keys loaded with ``PrivateKey`` /
``PublicKey`` from the vectors' PEM or raw bytes, then ``decrypt``, ``verify`` or
``exchange``) and must end as labelled: valid succeeds with the stated output,
invalid raises sealbox's error, acceptable does either (never a wrong output).

sealbox pins SHA-256 for RSA-PSS and ECDSA: the ``rsa_pss_misc`` groups with other
hashes are checked to be refused by the pinned verifier.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sealbox.exceptions import DecryptionError, InvalidSignatureError, KeyFormatError
from sealbox.keys.asymmetric import PrivateKey, PublicKey
from tests.conftest import vectors


def _load(name: str) -> dict:
    return json.loads((vectors("wycheproof") / name).read_text())


def _check_total(data: dict, seen: Counter) -> None:
    assert sum(seen.values()) == data["numberOfTests"], seen


@pytest.mark.parametrize("bits", [2048, 3072])
def test_rsa_oaep_sha256(bits: int) -> None:
    data = _load(f"rsa_oaep_{bits}_sha256_mgf1sha256_test.json")
    seen: Counter = Counter()
    for group in data["testGroups"]:
        assert (group["sha"], group["mgfSha"]) == ("SHA-256", "SHA-256")
        key = PrivateKey.from_bytes(group["privateKeyPem"])
        assert key.bits == bits
        for t in group["tests"]:
            ct, label = bytes.fromhex(t["ct"]), bytes.fromhex(t["label"])
            if t["result"] == "valid":
                assert key.decrypt(ct, label=label) == bytes.fromhex(t["msg"]), t["tcId"]
            else:
                assert t["result"] == "invalid"
                with pytest.raises(DecryptionError) as info:
                    key.decrypt(ct, label=label)
                assert str(info.value) == "decryption failed"  # no padding oracle in the text
            seen[t["result"]] += 1
    _check_total(data, seen)
    assert seen["valid"] >= 18 and seen["invalid"] >= 19


def test_rsa_pss_2048_sha256_salt32() -> None:
    data = _load("rsa_pss_2048_sha256_mgf1_32_test.json")
    seen: Counter = Counter()
    for group in data["testGroups"]:
        assert (group["sha"], group["mgfSha"], group["sLen"]) == ("SHA-256", "SHA-256", 32)
        key = PublicKey.from_bytes(group["publicKeyPem"])
        for t in group["tests"]:
            sig, msg = bytes.fromhex(t["sig"]), bytes.fromhex(t["msg"])
            if t["result"] == "valid":
                key.verify(sig, msg)  # sealbox's default salt length is the vectors' 32
            else:
                with pytest.raises(InvalidSignatureError):
                    key.verify(sig, msg)
            seen[t["result"]] += 1
    _check_total(data, seen)
    assert seen["valid"] == 63 and seen["invalid"] == 45


def test_rsa_pss_misc() -> None:
    data = _load("rsa_pss_misc_test.json")
    seen: Counter = Counter()
    for group in data["testGroups"]:
        key = PublicKey.from_bytes(group["publicKeyPem"])
        pinned = (group["sha"], group["mgfSha"]) == ("SHA-256", "SHA-256")
        for t in group["tests"]:
            assert t["result"] == "valid"
            sig, msg = bytes.fromhex(t["sig"]), bytes.fromhex(t["msg"])
            if pinned:
                key.verify(sig, msg, pss_salt_length=group["sLen"])
                seen["valid (SHA-256)"] += 1
                if group["sLen"] != 32:  # the default refuses another salt length
                    with pytest.raises(InvalidSignatureError):
                        key.verify(sig, msg)
            else:
                with pytest.raises(InvalidSignatureError):
                    key.verify(sig, msg, pss_salt_length=group["sLen"])
                seen["refused: not SHA-256"] += 1
    _check_total(data, seen)
    assert seen["valid (SHA-256)"] >= 6


def test_ed25519() -> None:
    data = _load("ed25519_test.json")
    seen: Counter = Counter()
    for group in data["testGroups"]:
        key = PublicKey.from_bytes(group["publicKeyPem"])
        assert key == PublicKey.from_raw("ed25519", bytes.fromhex(group["publicKey"]["pk"]))
        for t in group["tests"]:
            sig, msg = bytes.fromhex(t["sig"]), bytes.fromhex(t["msg"])
            if t["result"] == "valid":
                key.verify(sig, msg)
            else:
                with pytest.raises(InvalidSignatureError):
                    key.verify(sig, msg)
            seen[t["result"]] += 1
    _check_total(data, seen)
    assert seen["valid"] == 88 and seen["invalid"] == 63


def test_ecdsa_p256_sha256() -> None:
    data = _load("ecdsa_secp256r1_sha256_test.json")
    seen: Counter = Counter()
    for group in data["testGroups"]:
        assert group["sha"] == "SHA-256"
        key = PublicKey.from_bytes(group["publicKeyPem"])
        assert key.key_type == "ecdsa-p256"
        for t in group["tests"]:
            sig, msg = bytes.fromhex(t["sig"]), bytes.fromhex(t["msg"])
            if t["result"] == "valid":
                key.verify(sig, msg)
            else:
                with pytest.raises(InvalidSignatureError):
                    key.verify(sig, msg)
            seen[t["result"]] += 1
    _check_total(data, seen)
    assert seen["valid"] == 174 and seen["invalid"] == 310


def test_x25519() -> None:
    data = _load("x25519_test.json")
    seen: Counter = Counter()
    for group in data["testGroups"]:
        for t in group["tests"]:
            private = PrivateKey.from_raw("x25519", bytes.fromhex(t["private"]))
            public = PublicKey.from_raw("x25519", bytes.fromhex(t["public"]))
            shared = bytes.fromhex(t["shared"])
            if t["result"] == "valid":
                assert private.exchange(public) == shared, t["tcId"]
                seen["valid"] += 1
            elif shared == bytes(32):
                # Acceptable by RFC 7748, refused by sealbox (and age): no all-zero secret.
                assert "ZeroSharedSecret" in t["flags"]
                with pytest.raises(KeyFormatError, match="low-order point"):
                    private.exchange(public)
                seen["acceptable, refused (zero secret)"] += 1
            else:
                assert t["result"] == "acceptable"
                assert private.exchange(public) == shared, t["tcId"]
                seen["acceptable, computed"] += 1
    _check_total(data, seen)
    assert seen["valid"] == 264 and seen["acceptable, refused (zero secret)"] > 0
