"""The JWT keyset vector printed in docs/formats.md, checked against sealbox and an
independent computation (argon2-cffi, pyca AESGCM and Ed25519 directly)."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sealbox.jwt import JWKSet, SigningKeySet, TokenVerifier
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
        if isinstance(obj, dict) and obj.get("vector") == "sealed-jwt-keyset":
            found.append(obj)
    assert found, "docs/formats.md lost its sealed-jwt-keyset vector"
    return found


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("vector", _vectors())
def test_sealed_keyset_vector_independently(vector):
    sealed = vector["file"]
    k = sealed["kdf"]
    key = hash_secret_raw(
        vector["passphrase"].encode(),
        _b64d(k["salt"]),
        time_cost=k["time_cost"],
        memory_cost=k["memory_cost"],
        parallelism=k["parallelism"],
        hash_len=32,
        type=Type.ID,
    )
    header = {name: sealed[name] for name in ("format", "kdf", "cipher")}
    aad = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    body = _b64d(sealed["data"])
    plain = json.loads(AESGCM(key).decrypt(body[:12], body[12:], aad))
    assert plain["format"] == "sealbox-jwt-keyset/1"
    (entry,) = plain["keys"]
    assert entry["jwk"]["d"] == vector["private_d"]
    assert entry["kid"] == plain["primary"] == vector["kid"]

    # The kid is the RFC 7638 thumbprint (RFC 8037 A.3 gives this very value).
    private = Ed25519PrivateKey.from_private_bytes(_b64d(vector["private_d"]))
    x = _b64e(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    assert _b64e(hashlib.sha256(canonical.encode()).digest()) == vector["kid"]

    # The token: the signature checks with plain Ed25519 over the received segments.
    h, p, s = vector["token"].split(".")
    private.public_key().verify(_b64d(s), f"{h}.{p}".encode())
    assert json.loads(_b64d(h)) == {"alg": "EdDSA", "kid": vector["kid"], "typ": "at+jwt"}
    assert vector["jwks"]["keys"][0]["x"] == x


@pytest.mark.parametrize("vector", _vectors())
def test_sealed_keyset_vector_with_sealbox(vector):
    keys = SigningKeySet.decrypt(json.dumps(vector["file"]).encode(), vector["passphrase"])
    assert keys.primary.kid == vector["kid"]
    assert keys.public_jwks() == vector["jwks"]
    claims = keys.verifier(audience="api", issuer="https://auth.example").verify(
        vector["token"], now=1_800_000_000
    )
    assert claims["sub"] == "user-42"
    published = TokenVerifier(JWKSet.from_dict(vector["jwks"]), audience="api")
    assert published.verify(vector["token"], now=1_800_000_899)["scope"] == "read"
    # Ed25519 is deterministic: the same claims give the same token.
    assert keys.sign(json.loads(_b64d(vector["token"].split(".")[1]))) == vector["token"]
