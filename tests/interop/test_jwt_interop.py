"""Interop: sealbox tokens verify in plain PyJWT and joserfc given the JWKS, and tokens
signed by PyJWT (and joserfc) with a key from a sealbox keyset verify in sealbox."""

from __future__ import annotations

import base64
import json
import time

import jwt as pyjwt
import pytest

from sealbox.jwt import JWKSet, SigningKeySet, TokenVerifier

pytestmark = [
    pytest.mark.interop,
    # joserfc warns that RFC 9864 deprecates the "EdDSA" name; PyJWT knows no other.
    pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning"),
]

ALGS = ["EdDSA", "ES256", "RS256"]
ISS = "https://auth.example"


@pytest.fixture(scope="module")
def keysets() -> dict[str, SigningKeySet]:
    return {alg: SigningKeySet.generate(alg) for alg in [*ALGS, "HS256"]}


def _private_jwk(keys: SigningKeySet) -> dict:
    doc = json.loads(keys.serialize_unencrypted())
    (entry,) = (k for k in doc["keys"] if k["kid"] == doc["primary"])
    return entry["jwk"]


@pytest.mark.parametrize("alg", ALGS)
def test_sealbox_token_verifies_in_pyjwt_from_the_jwks(keysets, alg):
    keys = keysets[alg]
    token = keys.issue("user-1", audience="api", issuer=ISS, scope="read", claims={"n": 1})
    jwks = pyjwt.PyJWKSet.from_dict(json.loads(json.dumps(keys.public_jwks())))
    header = pyjwt.get_unverified_header(token)
    assert header == {"alg": alg, "kid": keys.primary.kid, "typ": "at+jwt"}
    key = next(k for k in jwks.keys if k.key_id == header["kid"])
    claims = pyjwt.decode(
        token,
        key.key,
        algorithms=[alg],
        audience="api",
        issuer=ISS,
        options={"require": ["exp", "iat", "nbf", "sub", "jti"]},
    )
    assert claims["sub"] == "user-1"
    assert claims["scope"] == "read"
    assert claims["n"] == 1


def test_sealbox_hs256_token_verifies_in_pyjwt_with_the_secret(keysets):
    keys = keysets["HS256"]
    secret = base64.urlsafe_b64decode(_private_jwk(keys)["k"] + "==")
    token = keys.issue("user-1", audience="api")
    assert pyjwt.decode(token, secret, algorithms=["HS256"], audience="api")["sub"] == "user-1"


@pytest.mark.parametrize("alg", ALGS)
def test_sealbox_token_verifies_in_joserfc_from_the_jwks(keysets, alg):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    keys = keysets[alg]
    token = keys.issue("user-1", audience="api", issuer=ISS)
    key_set = KeySet.import_key_set(keys.public_jwks())
    decoded = jwt.decode(token, key_set, algorithms=[alg])
    assert decoded.header["kid"] == keys.primary.kid
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISS},
        aud={"essential": True, "value": "api"},
        sub={"essential": True},
        jti={"essential": True},
    )
    registry.validate(decoded.claims)
    # joserfc computes the same RFC 7638 thumbprint sealbox uses as the kid.
    assert key_set.keys[0].thumbprint() == keys.primary.kid


@pytest.mark.parametrize("alg", ALGS)
def test_after_rotation_both_libraries_find_each_token_by_kid(keysets, alg):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    keys = SigningKeySet.generate(alg)
    old = keys.issue("u", audience="api")
    keys.rotate()
    new = keys.issue("u", audience="api")
    jwks = keys.public_jwks()
    py_keys = {k.key_id: k for k in pyjwt.PyJWKSet.from_dict(jwks).keys}
    for token in (old, new):
        kid = pyjwt.get_unverified_header(token)["kid"]
        assert pyjwt.decode(token, py_keys[kid].key, algorithms=[alg], audience="api")["sub"]
        assert jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg]).claims["sub"]


@pytest.mark.parametrize("alg", [*ALGS, "HS256"])
def test_pyjwt_token_signed_with_a_keyset_key_verifies_in_sealbox(keysets, alg):
    keys = keysets[alg]
    algorithm = pyjwt.get_algorithm_by_name(alg)
    private = algorithm.from_jwk(_private_jwk(keys))
    now = int(time.time())
    token = pyjwt.encode(
        {"sub": "user-1", "aud": "api", "iss": ISS, "iat": now, "exp": now + 60},
        private,
        algorithm=alg,
        headers={"kid": keys.primary.kid, "typ": "at+jwt"},
    )
    claims = keys.verifier(audience="api", issuer=ISS).verify(token)
    assert claims["sub"] == "user-1"
    if alg != "HS256":
        public = TokenVerifier(JWKSet.from_dict(keys.public_jwks()), audience="api", issuer=ISS)
        assert public.verify(token)["sub"] == "user-1"


def test_pyjwt_token_with_its_default_typ_needs_the_type_relaxed(keysets):
    keys = keysets["EdDSA"]
    private = pyjwt.get_algorithm_by_name("EdDSA").from_jwk(_private_jwk(keys))
    now = int(time.time())
    token = pyjwt.encode(
        {"sub": "u", "iat": now, "exp": now + 60},
        private,
        algorithm="EdDSA",
        headers={"kid": keys.primary.kid},
    )
    from sealbox.exceptions import TokenError

    with pytest.raises(TokenError, match="type"):
        keys.verifier().verify(token)
    assert keys.verifier(token_type="JWT").verify(token)["sub"] == "u"


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_joserfc_token_signed_with_a_keyset_key_verifies_in_sealbox(keysets, alg):
    from joserfc import jwt
    from joserfc.jwk import import_key

    keys = keysets[alg]
    key = import_key(_private_jwk(keys))
    now = int(time.time())
    token = jwt.encode(
        {"alg": alg, "kid": keys.primary.kid, "typ": "at+jwt"},
        {"sub": "user-1", "aud": "api", "iat": now, "exp": now + 60},
        key,
    )
    assert keys.verifier(audience="api").verify(token)["sub"] == "user-1"


def test_kidless_pyjwt_tokens_verify_with_a_jwks_of_several_keys_without_kid():
    # An issuer that never sets kid publishes an RS256 and an ES256 key: a valid JWK Set
    # (kid is optional, RFC 7517 §4.5), once refused as "two keys have the key id None".
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    signers = {
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
    }
    algorithms = pyjwt.algorithms.get_default_algorithms()
    members = [json.loads(algorithms[alg].to_jwk(key.public_key())) for alg, key in signers.items()]
    assert all("kid" not in m for m in members)
    verifier = TokenVerifier(
        JWKSet.from_dict({"keys": members}), audience="api", require_kid=False, token_type=None
    )
    now = int(time.time())
    for alg, key in signers.items():
        token = pyjwt.encode({"sub": alg, "aud": "api", "iat": now, "exp": now + 60}, key, alg)
        assert "kid" not in pyjwt.get_unverified_header(token)
        assert verifier.verify(token)["sub"] == alg
