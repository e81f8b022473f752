"""Token refusals a caller acts on carry a stable code and the facts behind them, and
never the token: too large, a refused header member, a duplicate member, an algorithm
not accepted or not the key's, a token past ``max_age``.

Tokens come from PyJWT (as an outside issuer's would) or are framed by hand where PyJWT
will not write them (duplicate members).
"""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sealbox.exceptions import TokenError, TokenExpiredError
from sealbox.jwt import JWKSet, TokenVerifier, VerificationKey

NOW = 1_700_000_000
CLAIMS = {"sub": "u", "iat": NOW, "exp": NOW + 60}


@pytest.fixture(scope="module")
def signer() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def key_set(signer) -> JWKSet:
    public = VerificationKey.from_public_key(signer.public_key(), alg="ES256", kid="k1")
    return JWKSet.from_dict({"keys": [public.to_jwk()]})


def _issue(signer, claims=CLAIMS, **headers) -> str:
    return jwt.encode(
        claims, signer, algorithm="ES256", headers={"kid": "k1", "typ": "at+jwt", **headers}
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _framed(signer, header: str, claims: str) -> str:
    """A token signed over the header and claims text exactly as given."""
    signing_input = f"{_b64(header.encode())}.{_b64(claims.encode())}"
    r, s = decode_dss_signature(signer.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _refusal(verifier: TokenVerifier, token: str | bytes) -> TokenError:
    with pytest.raises(TokenError) as info:
        verifier.verify(token, now=NOW)
    signature = (token.decode() if isinstance(token, bytes) else token).rsplit(".", 1)[-1]
    for said in (str(info.value), repr(info.value), *info.value.facts.values()):
        assert signature not in said
    return info.value


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_a_token_over_the_size_limit_says_its_size_and_the_limit(signer, key_set, as_bytes):
    token = _issue(signer, {**CLAIMS, "pad": "a" * 20_000})
    refused = _refusal(TokenVerifier(key_set), token.encode() if as_bytes else token)
    assert refused.code == "token_too_large"
    assert refused.facts == {"size": str(len(token)), "max": "8192"}


@pytest.mark.parametrize(
    ("extra", "member"),
    [
        ({"crit": ["exp"]}, "crit"),
        ({"b64": False}, "b64"),
        ({"jku": "https://attacker.example/jwks.json"}, "jku"),
        ({"x5u": "https://attacker.example/cert.pem"}, "x5u"),
        ({"zip": "DEF"}, "zip"),
    ],
)
def test_a_refused_header_member_is_named_in_the_facts(signer, key_set, extra, member):
    header = json.dumps({"alg": "ES256", "kid": "k1", "typ": "at+jwt", **extra})
    refused = _refusal(TokenVerifier(key_set), _framed(signer, header, json.dumps(CLAIMS)))
    assert refused.code == "header_member_refused"
    assert refused.facts == {"member": member}


@pytest.mark.parametrize(
    ("header", "claims", "part", "member"),
    [
        (
            '{"alg":"ES256","kid":"k1","typ":"at+jwt","kid":"k2"}',
            json.dumps(CLAIMS),
            "header",
            "kid",
        ),
        (
            '{"alg":"ES256","kid":"k1","typ":"at+jwt"}',
            f'{{"sub":"u","iat":{NOW},"exp":{NOW + 60},"sub":"admin"}}',
            "claims set",
            "sub",
        ),
    ],
)
def test_a_duplicate_member_has_the_code_a_key_sets_duplicate_has(
    signer, key_set, header, claims, part, member
):
    # JWKSet.from_json says "duplicate_member" with the member's name: a token, the same.
    refused = _refusal(TokenVerifier(key_set), _framed(signer, header, claims))
    assert refused.code == "duplicate_member"
    assert refused.facts == {"member": member, "part": part}


def test_an_algorithm_the_verifier_does_not_accept_is_named_with_those_it_does(signer, key_set):
    verifier = TokenVerifier(key_set, algorithms=["EdDSA", "RS256"])
    refused = _refusal(verifier, _issue(signer))
    assert refused.code == "alg_not_accepted"
    assert refused.facts == {"alg": "ES256", "accepted": "EdDSA, RS256"}


def test_a_token_whose_alg_is_not_its_keys_names_both(signer, key_set):
    # The classic confusion: HS256 with the public key as the secret.
    refused = _refusal(
        TokenVerifier(key_set),
        _hs256_with(b"-----BEGIN PUBLIC KEY-----", {"alg": "HS256", "kid": "k1", "typ": "at+jwt"}),
    )
    assert refused.code == "alg_not_for_key"
    assert refused.facts == {"alg": "HS256", "kid": "k1", "accepted": "ES256"}


def _hs256_with(secret: bytes, header: dict) -> str:
    import hashlib
    import hmac

    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(CLAIMS).encode())}"
    tag = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(tag)}"


def test_a_token_past_max_age_says_when_it_got_too_old(signer, key_set):
    token = _issue(signer, {**CLAIMS, "iat": NOW - 100, "exp": NOW + 600})
    with pytest.raises(TokenExpiredError) as info:
        TokenVerifier(key_set, max_age=30).verify(token, now=NOW)
    assert info.value.code == "token_expired"
    # As an expired exp says it: which claim, the moment (iat + max_age), how long ago.
    assert info.value.facts == {
        "claim": "iat",
        "time": "2023-11-14T22:12:10Z",
        "seconds": "70",
        "max_age": "30",
    }
