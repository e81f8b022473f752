"""Wycheproof JWS/JWK vectors and the JOSE cookbook (RFC 7520) against sealbox.jwt.

Each Wycheproof test is verified with its group's public key (or the private
key, for ``oct`` keys); ``valid`` must verify and give the payload, ``invalid``
must raise. Upstream errata are handled as ``../shared/vectors/jwt/README.md``
describes them (see ``QUIRKS``).
"""

from __future__ import annotations

import json

import pytest

from sealbox.exceptions import KeyFormatError, TokenError
from sealbox.jwt import JWKSet, VerificationKey, verify_jws
from sealbox.jwt._jws import b64url_decode
from tests.conftest import vectors, vectors_root

# tcId -> (expected result for sealbox, reason), json_web_signature_test.json only.
QUIRKS = {
    367: ("skip", "the jws is byte-identical to tcId 357 (valid): C2SP/wycheproof#236"),
    370: ("skip", "the jws is byte-identical to tcId 357 (valid): C2SP/wycheproof#236"),
    372: ("invalid", "'?' inside a segment: a strict base64url decoder rejects it"),
    373: ("invalid", "'?' inside a segment: a strict base64url decoder rejects it"),
    346: ("invalid", "key alg PS256, token PS384: the alg is pinned to the key (RFC 8725 §3.1)"),
    350: ("invalid", "key alg PS256, token PS384: the alg is pinned to the key (RFC 8725 §3.1)"),
    347: ("drop-alg", "key alg 'ES521' is not registered; without it P-521 means ES512"),
    351: ("drop-alg", "key alg 'ES521' is not registered; without it P-521 means ES512"),
}


def _load(name: str) -> dict:
    return json.loads((vectors("jwt/wycheproof") / name).read_text())


def _cases(name: str) -> list:
    root = vectors_root()
    path = None if root is None else root / "jwt" / "wycheproof" / name
    if path is None or not path.exists():
        reason = f"test vectors jwt/wycheproof/{name} not found (set SEALBOX_VECTORS)"
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=reason))]
    data = json.loads(path.read_text())
    return [
        pytest.param(group, test, id=f"tc{test['tcId']}-{test['comment'][:40]}")
        for group in data["testGroups"]
        for test in group["tests"]
    ]


def _key_source(key: dict, *, drop_alg: bool = False) -> JWKSet:
    """The group's key as a key set, with the import policy applied."""
    doc = key if "keys" in key else {"keys": [key]}
    if drop_alg:
        doc = {"keys": [{k: v for k, v in jwk.items() if k != "alg"} for jwk in doc["keys"]]}
    return JWKSet.from_dict(doc, allow_hmac=True)


def _public_part(key: dict) -> dict:
    """A private key set as a verifier gets it: oct keys whole, others without private members."""
    if "keys" in key:
        return {"keys": [_public_part(k) for k in key["keys"]]}
    if key["kty"] == "oct":
        return key
    return {k: v for k, v in key.items() if k not in _PRIVATE}


def _run(group: dict, test: dict, *, drop_alg: bool = False) -> bytes:
    """Verify the test's JWS; raise for a refusal at key import or verification."""
    key = group.get("public") or _public_part(group["private"])
    source = _key_source(key, drop_alg=drop_alg)
    jws = test["jws"]
    if not isinstance(jws, str):
        # JSON serialization: a JWT API takes only the compact form (J08).
        jws = json.dumps(jws)
    return verify_jws(jws, source, require_kid=False).payload


@pytest.mark.parametrize(("group", "test"), _cases("json_web_signature_test.json"))
def test_wycheproof_json_web_signature(group, test):
    expected = test["result"]
    action, _reason = QUIRKS.get(test["tcId"], (expected, ""))
    if action == "skip":
        pytest.skip(_reason)
    drop_alg = action == "drop-alg"
    if drop_alg:
        action = expected
    if action == "valid":
        payload = _run(group, test, drop_alg=drop_alg)
        compact = test["jws"]
        assert payload == b64url_decode(compact.split(".")[1], "payload")
    else:
        with pytest.raises((TokenError, KeyFormatError)):
            _run(group, test, drop_alg=drop_alg)


@pytest.mark.parametrize(("group", "test"), _cases("json_web_key_test.json"))
def test_wycheproof_json_web_key(group, test):
    if test["result"] == "valid":
        payload = _run(group, test)
        assert payload == b64url_decode(test["jws"].split(".")[1], "payload")
    else:
        with pytest.raises((TokenError, KeyFormatError)):
            _run(group, test)


@pytest.mark.parametrize(("group", "test"), _cases("json_web_crypto_test.json"))
def test_wycheproof_json_web_crypto(group, test):
    if "jwe" in test:
        # A JWE must never pass as a signed token, whatever its label (J24).
        jwe = test["jwe"] if isinstance(test["jwe"], str) else json.dumps(test["jwe"])
        with pytest.raises(TokenError):
            verify_jws(jwe, JWKSet(), require_kid=False)
        return
    if test["result"] == "valid":
        assert _run(group, test) == b64url_decode(test["jws"].split(".")[1], "payload")
    else:
        with pytest.raises((TokenError, KeyFormatError)):
            _run(group, test)


def test_wycheproof_roca_key_is_refused_at_import():
    (group,) = [
        g
        for g in _load("json_web_key_test.json")["testGroups"]
        if g["tests"][0]["comment"] == "rejectsKeyWithRocaVulnerability"
    ]
    with pytest.raises(KeyFormatError, match="ROCA"):
        _key_source(group["public"])


@pytest.mark.parametrize(
    ("tc_id", "message"),
    [
        (1, "mixes symmetric"),
        (4, "two keys have the key id"),
        (8, "1024 bits"),
        (9, "exponent"),
        (10, "needs at least 32"),
        (11, "needs at least 48"),
        (12, "needs at least 64"),
        (16, "the HMAC key is 0 bytes"),
        (19, "unknown or unsupported alg 'ES521'"),
        (20, "unknown or unsupported alg 'ES224'"),
        (22, "not on curve"),
        (23, "does not fit curve P-384"),
        (24, "needs a EC key, not RSA"),
    ],
)
def test_wycheproof_bad_keys_fail_at_import_with_a_precise_message(tc_id, message):
    for group in _load("json_web_key_test.json")["testGroups"]:
        if any(t["tcId"] == tc_id for t in group["tests"]):
            key = group.get("public") or _public_part(group["private"])
            with pytest.raises(KeyFormatError, match=message):
                _key_source(key)
            return
    pytest.fail(f"tcId {tc_id} not found")


# -- JOSE cookbook (RFC 7520) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "alg"),
    [
        ("4_1.rsa_v15_signature.json", "RS256"),
        ("4_2.rsa-pss_signature.json", "PS384"),
        ("4_3.ecdsa_signature.json", "ES512"),
        ("4_4.hmac-sha2_integrity_protection.json", "HS256"),
    ],
)
def test_cookbook_compact_signatures_verify(name, alg):
    example = json.loads((vectors("jwt/jose-cookbook") / "jws" / name).read_text())
    jwk = {k: v for k, v in example["input"]["key"].items() if k not in _PRIVATE}
    jwk["alg"] = alg
    key = VerificationKey.from_jwk(jwk, allow_hmac=True)
    result = verify_jws(example["output"]["compact"], JWKSet([key]))
    assert result.payload.decode() == example["input"]["payload"]
    assert result.header["alg"] == alg


_PRIVATE = {"d", "p", "q", "dp", "dq", "qi"}


def test_cookbook_detached_payload_is_refused():
    example = json.loads(
        (
            vectors("jwt/jose-cookbook") / "jws" / "4_5.signature_with_detached_content.json"
        ).read_text()
    )
    jwk = {k: v for k, v in example["input"]["key"].items() if k not in _PRIVATE}
    key = VerificationKey.from_jwk({**jwk, "alg": example["input"]["alg"]}, allow_hmac=True)
    with pytest.raises(TokenError, match="signature does not verify"):
        verify_jws(example["output"]["compact"], JWKSet([key]))


@pytest.mark.parametrize(
    "name",
    [
        "4_6.protecting_specific_header_fields.json",
        "4_7.protecting_content_only.json",
        "4_8.multiple_signatures.json",
    ],
)
def test_cookbook_json_only_serializations_are_refused(name):
    example = json.loads((vectors("jwt/jose-cookbook") / "jws" / name).read_text())
    with pytest.raises(TokenError, match="JSON serialization"):
        verify_jws(json.dumps(example["output"]["json"]), JWKSet())


def test_cookbook_ed25519_rfc8037():
    example = json.loads((vectors("jwt/jose-cookbook") / "curve25519" / "jws.json").read_text())
    jwk = {k: v for k, v in example["input"]["key"].items() if k != "d"}
    key = VerificationKey.from_jwk(jwk)
    assert key.algorithms == {"EdDSA", "Ed25519"}
    result = verify_jws(example["output"]["compact"], JWKSet([key]), require_kid=False)
    assert result.payload.decode() == example["input"]["payload"]


@pytest.mark.parametrize("name", ["hmac-sha2_b64_false.json", "4.2.hmac-sha2_b64_false.json"])
def test_cookbook_unencoded_payload_is_refused(name):
    example = json.loads((vectors("jwt/jose-cookbook") / "rfc7797" / name).read_text())
    key = VerificationKey.from_hmac_secret(
        b64url_decode(example["input"]["key"]["k"], "k"), kid=example["input"]["key"].get("kid")
    )
    compact = example["output"].get("compact")
    if compact is None:
        flat = example["output"]["json_flat"]
        compact = f"{flat['protected']}.{flat['payload']}.{flat['signature']}"
    with pytest.raises(TokenError):
        verify_jws(compact, JWKSet([key]), require_kid=False)
