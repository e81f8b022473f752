"""sealbox.jwt.verify and sealbox.jwt.jwk: the verification policy and key import."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from sealbox.exceptions import (
    ConfigError,
    KeyFormatError,
    TokenError,
    TokenExpiredError,
    TokenNotYetValidError,
)
from sealbox.jwt import (
    JWKSet,
    KeySource,
    SigningKeySet,
    TokenVerifier,
    VerificationKey,
    decode_unverified,
    verify_jws,
)

T0 = 1_700_000_000


@pytest.fixture(scope="module")
def keys() -> SigningKeySet:
    return SigningKeySet.generate()


def test_leeway_on_exp(keys):
    token = keys.issue("u", ttl=60, now=T0)
    strict = keys.verifier(clock=lambda: T0 + 60)
    with pytest.raises(TokenExpiredError):
        strict.verify(token)
    lenient = keys.verifier(leeway=30)
    assert lenient.verify(token, now=T0 + 89)["sub"] == "u"
    with pytest.raises(TokenExpiredError):
        lenient.verify(token, now=T0 + 90)


def test_leeway_on_nbf_and_iat(keys):
    token = keys.issue("u", now=T0 + 20)  # issued 20 s "in the future" (clock skew)
    with pytest.raises(TokenNotYetValidError):
        keys.verifier().verify(token, now=T0)
    assert keys.verifier(leeway=20).verify(token, now=T0)["sub"] == "u"
    with pytest.raises(TokenNotYetValidError):
        keys.verifier(leeway=19).verify(token, now=T0)


def test_not_before_later_than_issue(keys):
    token = keys.issue("u", not_before=T0 + 100, now=T0)
    with pytest.raises(TokenNotYetValidError, match="nbf"):
        keys.verifier().verify(token, now=T0 + 99)
    assert keys.verifier().verify(token, now=T0 + 100)["sub"] == "u"


def test_clock_is_called_for_each_token(keys):
    ticks = iter([T0, T0 + 1000])
    verifier = keys.verifier(clock=lambda: next(ticks))
    token = keys.issue("u", ttl=600, now=T0)
    assert verifier.verify(token)["sub"] == "u"
    with pytest.raises(TokenExpiredError):
        verifier.verify(token)


def test_max_age(keys):
    token = keys.issue("u", ttl=3600, now=T0)
    verifier = keys.verifier(max_age=300, clock=lambda: T0 + 301)
    with pytest.raises(TokenExpiredError, match="maximum age"):
        verifier.verify(token)
    assert keys.verifier(max_age=300).verify(token, now=T0 + 300)["sub"] == "u"


def test_required_claims_are_configurable(keys):
    token = keys.sign({"exp": T0 + 10})
    with pytest.raises(TokenError, match="no 'iat' claim"):
        keys.verifier().verify(token, now=T0)
    assert keys.verifier(required_claims=("exp",)).verify(token, now=T0) == {"exp": T0 + 10}
    with pytest.raises(TokenError, match="no 'jti' claim"):
        keys.verifier(required_claims=("exp", "jti")).verify(token, now=T0)


def test_several_issuers_and_audiences(keys):
    token = keys.issue("u", audience="b", issuer="https://two", now=T0)
    verifier = keys.verifier(audience=["a", "b"], issuer=("https://one", "https://two"))
    assert verifier.verify(token, now=T0)["aud"] == "b"


def test_token_type_none_accepts_any_type(keys):
    token = keys.issue("u", token_type="JWT", now=T0)
    assert keys.verifier(token_type=None).verify(token, now=T0)["sub"] == "u"
    assert keys.verifier(token_type="jwt").verify(token, now=T0)["sub"] == "u"
    with pytest.raises(TokenError, match="expected 'at\\+jwt'"):
        keys.verifier().verify(token, now=T0)


def test_tokens_without_kid_for_a_single_key_source():
    legacy = VerificationKey.from_hmac_secret(b"s" * 32, kid=None)
    key_set = JWKSet([legacy])
    import jwt  # a python-jose-style token: HS256, no kid, typ JWT

    token = jwt.encode({"sub": "u", "exp": T0 + 60, "iat": T0}, b"s" * 32, algorithm="HS256")
    with pytest.raises(TokenError, match="no key id"):
        TokenVerifier(key_set, token_type=None).verify(token, now=T0)
    relaxed = TokenVerifier(key_set, token_type=None, require_kid=False)
    assert relaxed.verify(token, now=T0)["sub"] == "u"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"leeway": 301}, "leeway"),
        ({"max_age": 0}, "max_age"),
        ({"max_token_size": 10}, "max_token_size"),
        ({"token_type": ""}, "token_type"),
        ({"required_claims": [1]}, "required_claims"),
        ({"audience": ""}, "audience"),
        ({"issuer": []}, "issuer"),
        ({"algorithms": ["RS257"]}, "unknown algorithm"),
        ({"algorithms": []}, "at least one"),
    ],
)
def test_verifier_configuration_errors(keys, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TokenVerifier(keys, **kwargs)


@pytest.mark.parametrize("size", [float("nan"), 8192.5, "8192", True])
def test_a_max_token_size_that_is_no_whole_number_is_refused(keys, size):
    # NaN passed "max_token_size < 64", and then "len(token) > NaN" let any size through.
    with pytest.raises(TypeError, match="max_token_size must be a whole number"):
        TokenVerifier(keys, max_token_size=size)


def test_a_token_type_that_is_no_string_is_a_type_error(keys):
    # It was an AttributeError ('int' object has no attribute 'lower').
    with pytest.raises(TypeError, match="token_type must be a media type"):
        TokenVerifier(keys, token_type=5)  # type: ignore[arg-type]


def test_required_claims_that_are_no_names_are_a_type_error_saying_so(keys):
    # None was "'NoneType' object is not iterable", naming nothing sealbox asked for.
    with pytest.raises(TypeError, match="required_claims must be claim names"):
        TokenVerifier(keys, required_claims=None)  # type: ignore[arg-type]


def test_verifier_needs_a_key_source():
    with pytest.raises(TypeError, match="find"):
        TokenVerifier(object())  # type: ignore[arg-type]
    assert isinstance(JWKSet(), KeySource)


def test_verifier_accepts_a_single_algorithm_string(keys):
    token = keys.issue("u", now=T0)
    assert TokenVerifier(keys, algorithms="EdDSA").verify(token, now=T0)["sub"] == "u"


def test_verifier_repr(keys):
    assert repr(keys.verifier(audience="api", issuer="i")) == (
        "TokenVerifier(audience=['api'], issuer=['i'], token_type='at+jwt')"
    )


def test_verify_accepts_bytes(keys):
    assert keys.verifier().verify(keys.issue("u", now=T0).encode(), now=T0)["sub"] == "u"


def test_type_error_for_other_token_types(keys):
    with pytest.raises(TypeError):
        keys.verifier().verify(42)  # type: ignore[arg-type]


def test_verify_jws_and_decode_unverified(keys):
    token = keys.issue("u", now=T0)
    result = verify_jws(token, keys)
    assert result.header["kid"] == keys.primary.kid
    assert result.key.kid == keys.primary.kid
    assert b'"sub":"u"' in result.payload
    with pytest.raises(TokenError, match="not among"):
        verify_jws(token, keys, algorithms=["ES256"])
    unverified = decode_unverified(token)
    assert unverified.claims["sub"] == "u"


# -- keys -------------------------------------------------------------------------------------


def test_verification_key_round_trip_and_repr():
    private = ec.generate_private_key(ec.SECP384R1())
    key = VerificationKey.from_public_key(private.public_key(), alg="ES384", kid="k1")
    assert repr(key) == "VerificationKey(kid='k1', kty='EC', algorithms=[ES384])"
    jwk = key.to_jwk()
    assert jwk["crv"] == "P-384"
    assert VerificationKey.from_jwk(jwk).to_jwk() == jwk
    with pytest.raises(AttributeError):
        key.kid = "other"  # type: ignore[misc]


def test_hmac_key_is_never_shown():
    secret = b"super-secret-hmac-key-material!!"
    key = VerificationKey.from_hmac_secret(secret, kid="h")
    assert "super" not in repr(key)
    with pytest.raises(ValueError, match="no public JWK"):
        key.to_jwk()
    assert key.to_jwk(include_secret=True)["kty"] == "oct"
    assert JWKSet([key]).to_dict() == {"keys": []}
    with pytest.raises(KeyFormatError, match="not an HMAC algorithm"):
        VerificationKey.from_hmac_secret(secret, alg="RS256", kid="h")


def test_jwk_set_from_json_and_lookups():
    pub = ed25519.Ed25519PrivateKey.generate().public_key()
    key = VerificationKey.from_public_key(pub, alg="EdDSA", kid="a")
    text = JWKSet([key]).to_dict()
    loaded = JWKSet.from_json(__import__("json").dumps(text))
    assert "a" in loaded
    assert len(loaded) == 1
    assert [k.kid for k in loaded] == ["a"]
    assert repr(loaded) == "JWKSet(kids=['a'])"
    assert loaded.find(None).kid == "a"
    with pytest.raises(TokenError, match="no key with id 'b'"):
        loaded.find("b")
    with pytest.raises(TokenError, match="holds 0 keys"):
        JWKSet().find(None)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("[]", "'keys' array"),
        ('{"keys": {}}', "'keys' array"),
        ("{", "not valid JSON"),
        ('{"keys": [1]}', "keys\\[0\\] is not a JSON object"),
        ('{"keys": [{"kid": 5, "kty": "EC"}]}', "'kid' must be a non-empty string"),
        ('{"keys": [{"kty": 5}]}', "'kty' is missing"),
        ('{"keys": [{"kty": "EC", "use": 1}]}', "'use' must be a string"),
        ('{"keys": [{"kty": "EC", "key_ops": "verify"}]}', "'key_ops' must be an array"),
        ('{"keys": [{"kty": "EC", "alg": 1}]}', "'alg' must be a string"),
        ('{"keys": [{"kty": "EC", "crv": "P-256", "x": 1, "y": "AA"}]}', "'x' is missing"),
        ('{"keys": [{"kty": "EC", "crv": "P-256", "x": "A+", "y": "AA"}]}', "not valid base64url"),
        ('{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}', "32 bytes each"),
        ('{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]}', "is 32 bytes"),
        ('{"keys": [{"kty": "OKP", "crv": "Ed9"}]}', "unsupported OKP curve"),
    ],
)
def test_jwk_set_import_errors(doc, message):
    with pytest.raises(KeyFormatError, match=message):
        JWKSet.from_json(doc)


def test_jwk_set_limits():
    with pytest.raises(KeyFormatError, match="larger than"):
        JWKSet.from_json(b" " * (512 * 1024 + 1))
    with pytest.raises(KeyFormatError, match="more than 100 keys"):
        JWKSet.from_dict({"keys": [{"kty": "unknown"}] * 101})


def test_unknown_key_types_are_skipped():
    assert len(JWKSet.from_dict({"keys": [{"kty": "PQC"}, {"kty": "EC", "use": "enc"}]})) == 0


def test_rsa_without_alg_means_rs256_only():
    from cryptography.hazmat.primitives.asymmetric import rsa

    pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    jwk = VerificationKey.from_public_key(pub, alg="PS256", kid="r").to_jwk()
    assert VerificationKey.from_jwk(jwk).algorithms == {"PS256"}
    jwk.pop("alg")
    assert VerificationKey.from_jwk(jwk).algorithms == {"RS256"}


def test_a_token_without_kid_is_checked_with_the_one_key_of_its_algorithm():
    import jwt  # PyJWT: an issuer that never sets kid

    es, es2 = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ed = ed25519.Ed25519PrivateKey.generate()
    es_key = VerificationKey.from_public_key(es.public_key(), alg="ES256", kid="es")
    ed_key = VerificationKey.from_public_key(ed.public_key(), alg="EdDSA", kid="ed")
    claims = {"sub": "u", "exp": T0 + 60, "iat": T0}
    token = jwt.encode(claims, es, algorithm="ES256", headers={"typ": "at+jwt"})
    assert "kid" not in jwt.get_unverified_header(token)
    relaxed = TokenVerifier(JWKSet([ed_key, es_key]), require_kid=False)
    assert relaxed.verify(token, now=T0)["sub"] == "u"
    with pytest.raises(TokenError, match="no key id"):
        TokenVerifier(JWKSet([ed_key, es_key])).verify(token, now=T0)
    two = JWKSet(
        [es_key, VerificationKey.from_public_key(es2.public_key(), alg="ES256", kid="es2")]
    )
    with pytest.raises(TokenError) as info:
        TokenVerifier(two, require_kid=False).verify(token, now=T0)
    assert str(info.value) == (
        "the token has no key id (kid), and the key set holds 2 keys for ES256: "
        "it does not say which one to check it with"
    )
    assert info.value.code == "kid_needed"
    assert info.value.facts == {"keys": "2", "alg": "ES256"}
    assert info.value.hint is not None and "kid" in info.value.hint
    with pytest.raises(TokenError, match="no key of the key set verifies ES256"):
        TokenVerifier(JWKSet([ed_key]), require_kid=False).verify(token, now=T0)


# -- a JWK Set read strictly ------------------------------------------------------------------


def _ed_jwk(kid: str) -> dict:
    pub = ed25519.Ed25519PrivateKey.generate().public_key()
    return VerificationKey.from_public_key(pub, alg="EdDSA", kid=kid).to_jwk()


@pytest.mark.parametrize(
    ("template", "member"),
    [
        # The set a last-wins reader sees is not the one another reader sees.
        ('{{"keys": [], "keys": [{key}]}}', "keys"),
        ('{{"keys": [{key_with_two_kids}]}}', "kid"),
    ],
)
def test_a_jwk_set_member_given_twice_is_refused(template, member):
    import json

    key = json.dumps(_ed_jwk("a"))
    text = template.format(key=key, key_with_two_kids=key[:-1] + ', "kid": "b"}')
    with pytest.raises(KeyFormatError) as info:
        JWKSet.from_json(text)
    assert str(info.value) == f"the JWK Set has a duplicate member {member!r}"
    assert info.value.code == "duplicate_member"
    assert info.value.facts == {"member": member}


def test_a_jwk_set_duplicate_member_name_is_shortened_in_the_message():
    name = "x" * 300
    with pytest.raises(KeyFormatError) as info:
        JWKSet.from_json(f'{{"keys": [], "{name}": 1, "{name}": 2}}')
    assert len(str(info.value)) < 100
    assert len(info.value.facts["member"]) <= 40


def test_a_kid_no_token_header_can_name_is_refused_when_the_set_is_loaded():
    # A token's header kid is at most 256 characters: a longer key id in the set was
    # loaded, and no token could ever reach its key.
    longest = _ed_jwk("k" * 256)
    assert "k" * 256 in JWKSet.from_dict({"keys": [longest]})
    too_long = _ed_jwk("k" * 256)
    too_long["kid"] = "k" * 257
    with pytest.raises(KeyFormatError) as info:
        JWKSet.from_dict({"keys": [too_long]})
    assert "'kid' must be a string of 1 to 256 characters" in str(info.value)
    assert "k" * 100 not in str(info.value)
    pub = ed25519.Ed25519PrivateKey.generate().public_key()
    with pytest.raises(KeyFormatError, match="1 to 256 characters"):
        VerificationKey.from_public_key(pub, alg="EdDSA", kid="k" * 257)
    with pytest.raises(KeyFormatError, match="1 to 256 characters"):
        VerificationKey.from_hmac_secret(b"s" * 32, kid="k" * 257)


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", "BEARER  "])
def test_a_token_with_its_authorization_scheme_says_to_leave_the_scheme_out(keys, scheme):
    # It said "the token holds whitespace at offset 6".
    token = keys.issue("u", now=T0)
    with pytest.raises(TokenError) as info:
        keys.verifier().verify(scheme + token, now=T0)
    assert str(info.value) == (
        "the token starts with 'Bearer', the scheme of an Authorization header: "
        "give the token alone"
    )
    assert token.split(".")[1] not in str(info.value)


def test_a_key_of_another_algorithm_is_named_by_the_start_of_a_long_kid():
    # The kid comes from the token: up to 256 characters were quoted whole.
    import base64
    import json

    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    kid = "k" * 256
    jwks = JWKSet.from_dict({"keys": [_ed_jwk(kid)]})
    token = f"{part({'alg': 'ES256', 'kid': kid, 'typ': 'at+jwt'})}.{part({'sub': 'u'})}.{'A' * 86}"
    verifier = TokenVerifier(jwks, algorithms=["EdDSA", "ES256"])
    with pytest.raises(TokenError, match="verifies EdDSA, not ES256") as info:
        verifier.verify(token, now=T0)
    assert "k" * 41 not in str(info.value)
    assert "'" + "k" * 40 + "…'" in str(info.value)
