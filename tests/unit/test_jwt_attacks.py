"""The JWT attack catalogue (../shared/vectors/jwt/README.md §4, J01-J28): every case is refused.

Tokens are forged here with pyca/cryptography directly, the way an attacker would
build them, and presented to a sealbox verifier holding real keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
from typing import ClassVar

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sealbox.exceptions import (
    ConfigError,
    KeyFormatError,
    TokenError,
    TokenExpiredError,
    TokenNotYetValidError,
)
from sealbox.jwt import (
    JWKSet,
    SigningKeySet,
    TokenVerifier,
    VerificationKey,
    decode_unverified,
    verify_jws,
)

NOW = 1_700_000_000
ISS = "https://issuer.example"
AUD = "api"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def enc(value) -> str:
    if isinstance(value, bytes):
        return b64(value)
    return b64(json.dumps(value).encode())


def claims(**extra) -> dict:
    body = {"iss": ISS, "sub": "user-1", "aud": AUD, "iat": NOW, "nbf": NOW, "exp": NOW + 600}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not ...}


class Keys:
    """One real signing key per algorithm, and raw access to the private keys."""

    def __init__(self) -> None:
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.es = ec.generate_private_key(ec.SECP256R1())
        self.rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.hs = b"k" * 32
        self.keyset = JWKSet(
            [
                VerificationKey.from_public_key(self.ed.public_key(), alg="EdDSA", kid="ed"),
                VerificationKey.from_public_key(self.es.public_key(), alg="ES256", kid="es"),
                VerificationKey.from_public_key(self.rs.public_key(), alg="RS256", kid="rs"),
            ]
        )
        self.hs_keyset = JWKSet([VerificationKey.from_hmac_secret(self.hs, kid="hs")])

    def sign(self, alg: str, signing_input: bytes) -> bytes:
        if alg == "EdDSA":
            return self.ed.sign(signing_input)
        if alg == "ES256":
            r, s = decode_dss_signature(self.es.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if alg == "RS256":
            return self.rs.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        if alg == "HS256":
            return hmac.new(self.hs, signing_input, hashlib.sha256).digest()
        raise AssertionError(alg)

    def forge(self, header, payload, alg: str | None = None, signature: bytes | None = None):
        """A compact token; signed with the real key of ``alg`` unless a signature is given."""
        h = header if isinstance(header, str) else enc(header)
        p = payload if isinstance(payload, str) else enc(payload)
        if signature is None:
            signature = self.sign(alg or header["alg"], f"{h}.{p}".encode())
        return f"{h}.{p}.{b64(signature)}"


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def verifier(keys) -> TokenVerifier:
    return TokenVerifier(keys.keyset, audience=AUD, issuer=ISS, clock=lambda: NOW)


@pytest.fixture(scope="module")
def hs_verifier(keys) -> TokenVerifier:
    return TokenVerifier(keys.hs_keyset, audience=AUD, issuer=ISS, clock=lambda: NOW)


def header(alg: str = "EdDSA", kid: str | None = "ed", **extra) -> dict:
    h = {"alg": alg, "typ": "at+jwt"}
    if kid is not None:
        h["kid"] = kid
    h.update(extra)
    return h


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
def test_baseline_the_forger_makes_valid_tokens(keys, verifier, alg):
    kid = {"EdDSA": "ed", "ES256": "es", "RS256": "rs"}[alg]
    token = keys.forge(header(alg, kid), claims())
    assert verifier.verify(token)["sub"] == "user-1"


def test_baseline_hmac(keys, hs_verifier):
    assert hs_verifier.verify(keys.forge(header("HS256", "hs"), claims()))["sub"] == "user-1"


# -- J01, J02: alg none and its spellings ------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "none ", " none"])
@pytest.mark.parametrize("kid", ["ed", None])
@pytest.mark.parametrize("signature", [b"", b"x" * 64])
def test_j01_j02_alg_none(keys, verifier, alg, kid, signature):
    token = keys.forge(header(alg, kid), claims(), signature=signature)
    with pytest.raises(TokenError, match=r"none|no signature"):
        verifier.verify(token)
    with pytest.raises(TokenError):
        TokenVerifier(keys.keyset, audience=AUD, algorithms=["EdDSA"]).verify(token)


# -- J03: stripped and malformed compact forms -------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda t: "",
        lambda t: t.rsplit(".", 1)[0],  # no signature part
        lambda t: t.rsplit(".", 1)[0] + ".",  # empty signature
        lambda t: "." + t.split(".", 1)[1],  # empty header
        lambda t: t.split(".")[0] + ".." + t.split(".")[2],  # empty payload
        lambda t: t + ".",  # 4 parts
        lambda t: t + "." + t.split(".")[2],  # 4 parts, extra signature
        lambda t: t.split(".")[1],  # payload only
        lambda t: "..",
        lambda t: ".",
    ],
)
def test_j03_malformed_compact(keys, verifier, make):
    token = make(keys.forge(header(), claims()))
    with pytest.raises(TokenError):
        verifier.verify(token)


def test_j03_null_signature_cve_2020_28042(keys, verifier):
    token = keys.forge(header(), claims(), signature=b"\x00" * 64)
    with pytest.raises(TokenError, match="signature does not verify"):
        verifier.verify(token)


# -- J04: HMAC / public-key confusion ----------------------------------------------------


def _public_forms(public) -> list[bytes]:
    forms = [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
        json.dumps(
            VerificationKey.from_public_key(public, alg=_alg_of(public), kid=None).to_jwk()
        ).encode(),
    ]
    if isinstance(public, ed25519.Ed25519PublicKey):
        forms.append(
            public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
    if isinstance(public, rsa.RSAPublicKey):
        forms.append(
            public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        )
    return forms


def _alg_of(public) -> str:
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return "ES256"
    return "RS256"


@pytest.mark.parametrize("kid", ["ed", "es", "rs"])
@pytest.mark.parametrize("mac", ["HS256", "HS384", "HS512"])
def test_j04_public_key_used_as_hmac_secret(keys, kid, mac):
    private = {"ed": keys.ed, "es": keys.es, "rs": keys.rs}[kid]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[mac]
    # Even a verifier that (wrongly) lists HS algorithms refuses: the key fixes the alg.
    lax = TokenVerifier(keys.keyset, audience=AUD, algorithms=[mac, "EdDSA", "ES256", "RS256"])
    for secret in _public_forms(private.public_key()):
        h, p = enc(header(mac, kid)), enc(claims())
        signature = hmac.new(secret, f"{h}.{p}".encode(), digest).digest()
        token = f"{h}.{p}.{b64(signature)}"
        with pytest.raises(TokenError, match=f"not {mac}"):
            lax.verify(token, now=NOW)


# -- J05: alg does not match the key's algorithm -----------------------------------------


def test_j05_ps256_with_an_rs256_key(keys, verifier):
    h, p = enc(header("PS256", "rs")), enc(claims())
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = keys.rs.sign(f"{h}.{p}".encode(), pss, hashes.SHA256())
    with pytest.raises(TokenError, match="verifies RS256, not PS256"):
        verifier.verify(f"{h}.{p}.{b64(signature)}")


def test_j05_rs512_with_an_rs256_key(keys, verifier):
    h, p = enc(header("RS512", "rs")), enc(claims())
    signature = keys.rs.sign(f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA512())
    with pytest.raises(TokenError, match="not RS512"):
        verifier.verify(f"{h}.{p}.{b64(signature)}")


def test_j05_es384_claimed_for_a_p256_key(keys, verifier):
    h, p = enc(header("ES384", "es")), enc(claims())
    der = keys.es.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    with pytest.raises(TokenError, match="not ES384"):
        verifier.verify(f"{h}.{p}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}")


def test_j05_key_bound_to_one_alg_even_if_the_caller_allows_more(keys):
    lax = TokenVerifier(keys.keyset, audience=AUD, algorithms=["RS256", "PS256", "RS512"])
    h, p = enc(header("PS256", "rs")), enc(claims())
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    token = f"{h}.{p}.{b64(keys.rs.sign(f'{h}.{p}'.encode(), pss, hashes.SHA256()))}"
    with pytest.raises(TokenError, match="not PS256"):
        lax.verify(token, now=NOW)


def test_j05_caller_allow_list_is_applied_too(keys):
    strict = TokenVerifier(keys.keyset, audience=AUD, algorithms=["ES256"], clock=lambda: NOW)
    with pytest.raises(TokenError, match="not among the accepted"):
        strict.verify(keys.forge(header("EdDSA", "ed"), claims()))


@pytest.mark.parametrize(
    ("jwk_change", "message"),
    [
        ({"alg": "ES384"}, "does not fit curve P-256"),
        ({"alg": "ES521"}, "unknown or unsupported alg"),
        ({"alg": "RS256"}, "needs a RSA key"),
        ({"alg": "HS256"}, "needs a oct key"),
        ({"crv": "P-384"}, "does not fit curve P-384"),
        ({"kty": "RSA"}, "needs a RSA key"),
    ],
)
def test_j05_jwk_alg_must_fit_the_key(keys, jwk_change, message):
    jwk = VerificationKey.from_public_key(keys.es.public_key(), alg="ES256", kid="x").to_jwk()
    jwk.update(jwk_change)
    if jwk_change.get("kty") == "RSA":
        jwk.pop("alg")
        jwk["alg"] = "ES256"
        message = "needs a EC key, not RSA"
    with pytest.raises(KeyFormatError, match=message):
        VerificationKey.from_jwk(jwk)


# -- J06: bad alg and header -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_header", "message"),
    [
        (b'{"kid":"ed","typ":"at+jwt"}', "no 'alg'"),
        (b'{"alg":256,"kid":"ed"}', "no 'alg'"),
        (b'{"alg":null,"kid":"ed"}', "no 'alg'"),
        (b'{"alg":"HS257","kid":"ed"}', "unsupported alg"),
        (b'{"alg":"ES256K","kid":"es"}', "unsupported alg"),
        (b'{"alg":"eddsa","kid":"ed"}', "unsupported alg"),
        (b'["EdDSA"]', "not a JSON object"),
        (b'"EdDSA"', "not a JSON object"),
        (b"EdDSA", "not valid JSON"),
        (b'{"alg":"EdDSA","kid":"ed"', "not valid JSON"),
        (b'{"alg":"EdDSA","kid":"ed","typ":"at+jwt"}\xff', "not UTF-8"),
        (b'{"alg":"\xff"}', "not UTF-8"),
        (b'{"alg":"EdDSA","alg":"none","kid":"ed"}', "duplicate member 'alg'"),
        (b'{"alg":"none","alg":"EdDSA","kid":"ed"}', "duplicate member 'alg'"),
        (b'{"alg":"EdDSA","kid":"ed","kid":"es"}', "duplicate member 'kid'"),
        (b'{"alg":"EdDSA","kid":"ed","x":{"a":1,"a":2}}', "duplicate member 'a'"),
        (b"\xfe\xff\x00{", "not UTF-8"),
        (b'{"alg":"EdDSA","kid":"ed","n":NaN}', "not valid JSON"),
    ],
)
def test_j06_bad_header(keys, verifier, raw_header, message):
    token = keys.forge(b64(raw_header), claims(), alg="EdDSA")
    with pytest.raises(TokenError, match=message):
        verifier.verify(token)


def test_j06_header_in_utf16_is_not_sniffed(keys, verifier):
    raw = json.dumps(header()).encode("utf-16")
    with pytest.raises(TokenError, match="not UTF-8"):
        verifier.verify(keys.forge(b64(raw), claims(), alg="EdDSA"))


# -- J07: non-canonical base64url --------------------------------------------------------


def _token_with_url_chars(keys) -> str:
    for i in range(200):
        token = keys.forge(header(), claims(jti=str(i)))
        if "-" in token or "_" in token:
            return token
    raise AssertionError("no token with - or _ in 200 tries")


def test_j07_padding_is_refused(keys, verifier):
    token = keys.forge(header(), claims())
    h, p, s = token.split(".")
    for bad in (f"{h}=.{p}.{s}", f"{h}.{p}.{s}==", f"{h}.{p}=.{s}"):
        with pytest.raises(TokenError, match="padding"):
            verifier.verify(bad)


def test_j07_standard_base64_alphabet_is_refused(keys, verifier):
    token = _token_with_url_chars(keys)
    bad = token.replace("-", "+").replace("_", "/")
    with pytest.raises(TokenError, match="standard base64"):
        verifier.verify(bad)


@pytest.mark.parametrize("insert", [" ", "\n", "\r\n", "\t", "?", "*", "é", "\x00"])
def test_j07_stray_characters(keys, verifier, insert):
    token = keys.forge(header(), claims())
    for position in (5, len(token.split(".")[0]) + 3, len(token) - 2):
        bad = token[:position] + insert + token[position:]
        with pytest.raises(TokenError):
            verifier.verify(bad)


def test_j07_unused_bits_in_the_signature(keys, verifier):
    token = keys.forge(header(), claims())
    h, p, s = token.split(".")
    assert len(s) % 4 == 2  # 64 bytes: the last character carries 4 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(s[-1]) | 1]
    tweaked = f"{h}.{p}.{s[:-1]}{last}"
    # The decoded bytes are the same, so only the canonical check stops it.
    assert base64.urlsafe_b64decode(s + "==") == base64.urlsafe_b64decode(s[:-1] + last + "==")
    with pytest.raises(TokenError, match="unused bits"):
        verifier.verify(tweaked)


def test_j07_impossible_length(keys, verifier):
    token = keys.forge(header(), claims())
    h, p, s = token.split(".")
    with pytest.raises(TokenError, match="impossible length"):
        verifier.verify(f"{h}.{p}.{s}A" if len(s) % 4 == 0 else f"{h}.{p}.{s[:-1]}")


def test_j07_whitespace_inside_the_json_header_is_fine(keys, verifier):
    raw = b'{ "alg" : "EdDSA",\n\t"kid": "ed", "typ": "at+jwt" }'
    assert verifier.verify(keys.forge(b64(raw), claims(), alg="EdDSA"))["sub"] == "user-1"


# -- J08: JSON serialization and format confusion ----------------------------------------


def test_j08_json_serialization(keys, verifier):
    token = keys.forge(header(), claims())
    h, p, s = token.split(".")
    for doc in (
        {"protected": h, "payload": p, "signature": s},
        {"protected": h, "header": {"kid": "ed"}, "payload": p, "signature": s},
        {"payload": p, "signatures": [{"protected": h, "signature": s}]},
    ):
        with pytest.raises(TokenError, match="JSON serialization"):
            verifier.verify(json.dumps(doc))
        with pytest.raises(TokenError, match="JSON serialization"):
            verify_jws(json.dumps(doc), keys.keyset)


def test_j08_token_bytes_outside_ascii(keys, verifier):
    token = keys.forge(header(), claims()).encode() + b"\xc3\xa9"
    with pytest.raises(TokenError, match="outside base64url"):
        verifier.verify(token)


# -- J09, J10, J11: keys supplied by the token -------------------------------------------


def test_j09_embedded_jwk(keys, verifier):
    attacker = ed25519.Ed25519PrivateKey.generate()
    jwk = VerificationKey.from_public_key(attacker.public_key(), alg="EdDSA", kid="ed").to_jwk()
    for kid in ("ed", None):
        h, p = enc(header("EdDSA", kid, jwk=jwk)), enc(claims())
        token = f"{h}.{p}.{b64(attacker.sign(f'{h}.{p}'.encode()))}"
        with pytest.raises(TokenError, match=r"embedded key \(jwk\)"):
            verifier.verify(token)


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = b'{"keys":[]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_j10_jku_is_never_fetched(keys, verifier):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/attacker.json"
        attacker = ed25519.Ed25519PrivateKey.generate()
        h, p = enc(header("EdDSA", "attacker", jku=url)), enc(claims())
        token = f"{h}.{p}.{b64(attacker.sign(f'{h}.{p}'.encode()))}"
        with pytest.raises(TokenError, match=r"key set URL \(jku\)"):
            verifier.verify(token)
        # A jku with our own kid and our own signature is refused as well.
        with pytest.raises(TokenError, match="jku"):
            verifier.verify(keys.forge(header("EdDSA", "ed", jku=url), claims()))
    finally:
        server.shutdown()
        server.server_close()
    assert _Recorder.hits == []


@pytest.mark.parametrize(
    ("member", "value"),
    [("x5u", "https://127.0.0.1:1/cert.pem"), ("x5c", ["MIIB..."])],
)
def test_j11_certificate_members(keys, verifier, member, value):
    token = keys.forge(header(**{member: value}), claims())
    with pytest.raises(TokenError, match=f"({member})"):
        verifier.verify(token)


def test_j11_x5t_thumbprint_does_not_choose_the_key(keys, verifier):
    # x5t is only a hint; the key still comes from kid, so a forged signature fails.
    attacker = ed25519.Ed25519PrivateKey.generate()
    h, p = enc(header("EdDSA", "ed", **{"x5t#S256": "abc", "x5t": "abc"})), enc(claims())
    token = f"{h}.{p}.{b64(attacker.sign(f'{h}.{p}'.encode()))}"
    with pytest.raises(TokenError, match="signature does not verify"):
        verifier.verify(token)


# -- J12: kid injection ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../../../dev/null",
        "/dev/null",
        "' OR '1'='1",
        "x; rm -rf /",
        "(|(uid=*))",
        "ed\u0000",
        "unknown",
        "ED",
        "ed ",
    ],
)
def test_j12_kid_injection_empty_key_hmac(keys, hs_verifier, verifier, kid):
    # The classic: HS256 MACed with an empty key, kid pointing at an empty file.
    h, p = enc(header("HS256", kid)), enc(claims())
    token = f"{h}.{p}.{b64(hmac.new(b'', f'{h}.{p}'.encode(), hashlib.sha256).digest())}"
    for v in (verifier, hs_verifier):
        with pytest.raises(TokenError, match="no key with id"):
            v.verify(token)


@pytest.mark.parametrize("kid", [123, True, None, ["ed"], {"k": "ed"}, "", "x" * 300])
def test_j12_kid_must_be_a_reasonable_string(keys, verifier, kid):
    h = {"alg": "EdDSA", "typ": "at+jwt", "kid": kid}
    token = keys.forge(h, claims())
    with pytest.raises(TokenError, match="kid"):
        verifier.verify(token)


def test_j12_a_null_kid_is_not_a_missing_kid_even_where_tokens_may_omit_it(keys):
    # "kid": null is a malformed header, not one without a kid: it must not be
    # checked with the source's only key as a token without kid would be.
    lenient = TokenVerifier(keys.keyset, audience=AUD, issuer=ISS, require_kid=False)
    assert lenient.verify(keys.forge(header(kid=None), claims()), now=NOW)["sub"] == "user-1"
    token = keys.forge({**header(kid=None), "kid": None}, claims())
    with pytest.raises(TokenError, match="'kid' must be a string"):
        lenient.verify(token, now=NOW)
    with pytest.raises(TokenError, match="'kid' must be a string"):
        decode_unverified(token)


def test_j12_missing_kid_is_refused_by_default(keys, verifier):
    with pytest.raises(TokenError, match="no key id"):
        verifier.verify(keys.forge(header(kid=None), claims()))


# -- J13: ambiguous key sets and key usage -----------------------------------------------


def test_j13_duplicate_kid(keys):
    jwk = VerificationKey.from_public_key(keys.ed.public_key(), alg="EdDSA", kid="a").to_jwk()
    with pytest.raises(KeyFormatError, match="two keys have the key id 'a'"):
        JWKSet.from_dict({"keys": [jwk, dict(jwk)]})


def test_j13_mixed_symmetric_and_asymmetric(keys):
    pub = VerificationKey.from_public_key(keys.ed.public_key(), alg="EdDSA", kid="a").to_jwk()
    oct_ = {"kty": "oct", "k": b64(b"s" * 32), "kid": "b", "alg": "HS256"}
    with pytest.raises(KeyFormatError, match="mixes symmetric"):
        JWKSet.from_dict({"keys": [pub, oct_]}, allow_hmac=True)
    with pytest.raises(KeyFormatError, match="symmetric"):
        JWKSet.from_dict({"keys": [pub, oct_]})


@pytest.mark.parametrize(
    "marks", [{"use": "enc"}, {"key_ops": ["encrypt"]}, {"key_ops": ["sign"]}, {"alg": "RSA-OAEP"}]
)
def test_j13_encryption_keys_never_verify(keys, marks):
    jwk = VerificationKey.from_public_key(keys.rs.public_key(), alg="RS256", kid="rs").to_jwk()
    jwk.pop("alg")
    jwk.pop("use")
    jwk.update(marks)
    key_set = JWKSet.from_dict({"keys": [jwk]})
    assert "rs" not in key_set
    token = keys.forge(header("RS256", "rs"), claims())
    with pytest.raises(TokenError, match="no key with id 'rs'"):
        TokenVerifier(key_set, audience=AUD).verify(token, now=NOW)


# -- J14, J15: weak and invalid keys at import -------------------------------------------


@pytest.mark.parametrize(
    ("alg", "size"), [("HS256", 31), ("HS384", 47), ("HS512", 63), ("HS256", 0)]
)
def test_j14_short_hmac_keys(alg, size):
    with pytest.raises(KeyFormatError, match=f"needs at least {size + 1 if size else 32}"):
        VerificationKey.from_hmac_secret(b"k" * size, alg=alg, kid="k")
    with pytest.raises(KeyFormatError):
        JWKSet.from_dict(
            {"keys": [{"kty": "oct", "k": b64(b"k" * size), "alg": alg}]}, allow_hmac=True
        )


def test_j14_j15_keyset_refuses_a_weak_hmac_secret():
    keyset = SigningKeySet.generate()
    for secret in (b"secret", b"", b"x" * 31):
        with pytest.raises(KeyFormatError, match="needs at least 32"):
            keyset.import_hmac_secret(secret)


def test_j15_generated_hmac_keys_are_256_bit_random():
    keyset = SigningKeySet.generate("HS256")
    doc = json.loads(keyset.serialize_unencrypted())
    secret = base64.urlsafe_b64decode(doc["keys"][0]["jwk"]["k"] + "==")
    assert len(secret) == 32
    other = json.loads(SigningKeySet.generate("HS256").serialize_unencrypted())
    assert other["keys"][0]["jwk"]["k"] != doc["keys"][0]["jwk"]["k"]


def test_j14_small_rsa_modulus():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    with pytest.raises(KeyFormatError, match="1024 bits; at least 2048"):
        VerificationKey.from_public_key(small, alg="RS256", kid="k")


@pytest.mark.parametrize(
    ("e", "ok"), [(1, False), (2, False), (4, False), (3, True), (65537, True)]
)
def test_j14_rsa_public_exponent(keys, e, ok):
    n = keys.rs.public_key().public_numbers().n
    jwk = {
        "kty": "RSA",
        "n": b64(n.to_bytes(256, "big")),
        "e": b64(e.to_bytes(3, "big").lstrip(b"\0")),
    }
    if ok:
        assert VerificationKey.from_jwk(jwk).algorithms == {"RS256"}
    else:
        with pytest.raises(KeyFormatError, match="exponent"):
            VerificationKey.from_jwk(jwk)


def test_j14_ec_point_not_on_the_curve(keys):
    jwk = VerificationKey.from_public_key(keys.es.public_key(), alg="ES256", kid="k").to_jwk()
    y = bytearray(base64.urlsafe_b64decode(jwk["y"] + "=="))
    y[-1] ^= 1
    jwk["y"] = b64(bytes(y))
    with pytest.raises(KeyFormatError, match="not on curve P-256"):
        VerificationKey.from_jwk(jwk)


@pytest.mark.parametrize("alg", ["A256GCM", "A256KW", "dir"])
def test_j14_aes_key_is_not_an_hmac_key(keys, alg):
    jwk = {"kty": "oct", "k": b64(keys.hs), "kid": "hs", "alg": alg, "use": "sig"}
    key_set = JWKSet.from_dict({"keys": [jwk]}, allow_hmac=True)
    assert len(key_set) == 0
    with pytest.raises(TokenError, match="no key with id 'hs'"):
        TokenVerifier(key_set, audience=AUD).verify(keys.forge(header("HS256", "hs"), claims()))


def test_j14_unsupported_curve(keys):
    k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    with pytest.raises(KeyFormatError, match="unsupported EC curve"):
        VerificationKey.from_public_key(k1, alg="ES256", kid="k")


# -- J16: ECDSA signature edge cases -----------------------------------------------------


def _es_token(keys, signature: bytes) -> str:
    return keys.forge(header("ES256", "es"), claims(), signature=signature)


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, 0), (0, 1), (1, 0), (P256_ORDER, 1), (1, P256_ORDER), (P256_ORDER, P256_ORDER)],
)
def test_j16_psychic_and_out_of_range_signatures(keys, verifier, r, s):
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    with pytest.raises(TokenError, match="signature does not verify"):
        verifier.verify(_es_token(keys, signature))


def test_j16_der_signature_instead_of_raw(keys, verifier):
    h, p = enc(header("ES256", "es")), enc(claims())
    der = keys.es.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(TokenError, match="signature does not verify"):
        verifier.verify(f"{h}.{p}.{b64(der)}")


def test_j16_wrong_length(keys, verifier):
    good = keys.forge(header("ES256", "es"), claims())
    h, p, s = good.split(".")
    raw = base64.urlsafe_b64decode(s + "==")
    for bad in (raw[:-1], raw + b"\0", b"\0" + raw, raw[:32]):
        with pytest.raises(TokenError):
            verifier.verify(f"{h}.{p}.{b64(bad)}")


def test_j16_high_s_is_not_a_problem_but_a_changed_r_is(keys, verifier):
    good = keys.forge(header("ES256", "es"), claims())
    h, p, s = good.split(".")
    raw = base64.urlsafe_b64decode(s + "==")
    r, sv = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    # ECDSA is malleable: (r, n - s) is also valid. It verifies; what matters is that
    # any other change does not.
    flipped = r.to_bytes(32, "big") + (P256_ORDER - sv).to_bytes(32, "big")
    assert verifier.verify(f"{h}.{p}.{b64(flipped)}")["sub"] == "user-1"
    wrong_r = ((r + 1) % P256_ORDER).to_bytes(32, "big") + raw[32:]
    with pytest.raises(TokenError):
        verifier.verify(f"{h}.{p}.{b64(wrong_r)}")


# -- J17: RSA signature manipulation -----------------------------------------------------


def test_j17_rsa_signature_values(keys, verifier):
    n = keys.rs.public_key().public_numbers().n
    good = keys.forge(header("RS256", "rs"), claims())
    h, p, s = good.split(".")
    raw = base64.urlsafe_b64decode(s + "==")
    for value in (0, 1, n - 1, n, n + int.from_bytes(raw, "big")):
        candidate = value.to_bytes(257, "big").lstrip(b"\0").rjust(256, b"\0")
        with pytest.raises(TokenError):
            verifier.verify(f"{h}.{p}.{b64(candidate)}")
    for bad in (b"\0" + raw, raw + b"\0", raw[1:]):
        with pytest.raises(TokenError):
            verifier.verify(f"{h}.{p}.{b64(bad)}")


# -- J18, J19: crit and b64 --------------------------------------------------------------


@pytest.mark.parametrize(
    "crit",
    [["exp"], [], "b64", ["alg"], ["x-custom"], None],
)
def test_j18_crit(keys, verifier, crit):
    extra = {"crit": crit}
    if crit == ["x-custom"]:
        extra["x-custom"] = 1
    token = keys.forge(header(**extra), claims())
    with pytest.raises(TokenError, match=r"critical extensions \(crit\)"):
        verifier.verify(token)


def test_j19_unencoded_payload(keys, hs_verifier):
    payload = json.dumps(claims())
    for h in (
        {"alg": "HS256", "kid": "hs", "typ": "at+jwt", "b64": False, "crit": ["b64"]},
        {"alg": "HS256", "kid": "hs", "typ": "at+jwt", "b64": False},
    ):
        h64 = enc(h)
        mac = hmac.new(keys.hs, f"{h64}.{payload}".encode(), hashlib.sha256).digest()
        # The RFC 7797 compact form: the payload is detached (empty) or raw.
        for token in (f"{h64}..{b64(mac)}", f"{h64}.{enc(payload.encode())}.{b64(mac)}"):
            with pytest.raises(TokenError):
                hs_verifier.verify(token)


# -- J20: detached payload ---------------------------------------------------------------


def test_j20_detached_payload(keys, verifier):
    good = keys.forge(header(), claims())
    h, _, s = good.split(".")
    with pytest.raises(TokenError, match="signature does not verify"):
        verifier.verify(f"{h}..{s}")
    with pytest.raises(TokenError, match="signature does not verify"):
        verify_jws(f"{h}..{s}", keys.keyset)


def test_j20_empty_payload_is_not_a_jwt(keys, verifier):
    h = enc(header())
    token = f"{h}..{b64(keys.ed.sign(f'{h}.'.encode()))}"
    assert verify_jws(token, keys.keyset).payload == b""  # a valid JWS (Wycheproof agrees)
    with pytest.raises(TokenError, match="claims set is not valid JSON"):
        verifier.verify(token)


# -- J21: time claims --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"exp": NOW}, TokenExpiredError, "expired"),
        ({"exp": NOW - 1}, TokenExpiredError, "expired"),
        ({"nbf": NOW + 1}, TokenNotYetValidError, "not valid yet"),
        ({"iat": NOW + 1}, TokenNotYetValidError, "issue time"),
        ({"exp": str(NOW + 600)}, TokenError, "NumericDate"),
        ({"exp": True}, TokenError, "NumericDate"),
        ({"exp": None}, TokenError, "NumericDate"),
        ({"exp": [NOW + 600]}, TokenError, "NumericDate"),
        ({"nbf": "0"}, TokenError, "NumericDate"),
        ({"iat": -1}, TokenError, "NumericDate"),
        ({"exp": 10**30}, TokenError, "NumericDate"),
        ({"exp": ...}, TokenError, "no 'exp' claim"),
        ({"iat": ...}, TokenError, "no 'iat' claim"),
    ],
)
def test_j21_time_claims(keys, verifier, changes, error, message):
    token = keys.forge(header(), claims(**changes))
    with pytest.raises(error, match=message):
        verifier.verify(token)


def test_j21_infinite_and_nan_dates(keys, verifier):
    for raw in (b"1e400", b"NaN", b"Infinity", b"-Infinity"):
        body = json.dumps(claims()).replace(str(NOW + 600), "EXP").encode().replace(b"EXP", raw)
        with pytest.raises(TokenError, match=r"NumericDate|not valid JSON"):
            verifier.verify(keys.forge(header(), b64(body), alg="EdDSA"))


def test_j21_leeway_is_bounded(keys):
    with pytest.raises(ConfigError, match="leeway"):
        TokenVerifier(keys.keyset, leeway=301)
    with pytest.raises(ConfigError, match="leeway"):
        TokenVerifier(keys.keyset, leeway=-1)


# -- J22: issuer, audience, subject ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"iss": ...}, "no 'iss' claim"),
        ({"iss": ["https://issuer.example"]}, "'iss' claim must be a string"),
        ({"aud": ...}, "no 'aud' claim"),
        ({"aud": "other"}, "audience"),
        ({"aud": ["other", "third"]}, "audience"),
        ({"aud": []}, "names no audience"),
        ({"aud": 42}, "'aud' claim must be"),
        ({"aud": {"api": True}}, "'aud' claim must be"),
        ({"aud": ["api", 42]}, "'aud' claim must be"),
        ({"sub": 42}, "'sub' claim must be a string"),
        ({"sub": ...}, "no 'sub' claim"),
        ({"scope": ["read"]}, "'scope' claim must be a string"),
    ],
)
def test_j22_issuer_audience_subject(keys, verifier, changes, message):
    with pytest.raises(TokenError, match=message):
        verifier.verify(keys.forge(header(), claims(**changes)))


def test_j22_audience_in_a_list_is_accepted(keys, verifier):
    assert verifier.verify(keys.forge(header(), claims(aud=["other", AUD])))["aud"] == [
        "other",
        AUD,
    ]


def test_j22_token_with_an_audience_needs_a_verifier_with_one(keys):
    no_audience = TokenVerifier(keys.keyset, clock=lambda: NOW)
    with pytest.raises(TokenError, match="expects none") as exc:
        no_audience.verify(keys.forge(header(), claims()))
    assert exc.value.hint == "configure the verifier with audience="
    assert no_audience.verify(keys.forge(header(), claims(aud=...)))["sub"] == "user-1"


@pytest.mark.parametrize("audience", [AUD, None])
def test_j22_an_empty_audience_list_is_said_to_name_none(keys, audience):
    # It said "not meant for this audience", or "names an audience", of a token naming none.
    verifier = TokenVerifier(keys.keyset, audience=audience, issuer=ISS, clock=lambda: NOW)
    with pytest.raises(TokenError) as exc:
        verifier.verify(keys.forge(header(), claims(aud=[])))
    assert str(exc.value) == "the token's 'aud' claim is an empty list: it names no audience"
    assert exc.value.code == "invalid_token"


def test_j22_a_token_with_an_audience_for_a_verifier_with_none_has_its_code(keys):
    # The command line hints at --aud by this code, not by the message's words.
    with pytest.raises(TokenError) as exc:
        TokenVerifier(keys.keyset, clock=lambda: NOW).verify(keys.forge(header(), claims()))
    assert exc.value.code == "audience_unexpected"


# -- J23: cross-JWT confusion ------------------------------------------------------------


@pytest.mark.parametrize(
    "typ", [None, "JWT", "jwt", "id_token+jwt", "application/jwt", "dpop+jwt", 7]
)
def test_j23_other_token_types_are_refused(keys, verifier, typ):
    h = {"alg": "EdDSA", "kid": "ed"}
    if typ is not None:
        h["typ"] = typ
    with pytest.raises(TokenError, match="type"):
        verifier.verify(keys.forge(h, claims()))


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_j23_access_token_type_spellings(keys, verifier, typ):
    assert verifier.verify(keys.forge(header(typ=typ), claims()))["sub"] == "user-1"


@pytest.mark.parametrize("cty", ["JWT", "jwt", "application/JWT", 5])
def test_j23_j24_nested_tokens(keys, verifier, cty):
    with pytest.raises(TokenError, match="nested"):
        verifier.verify(keys.forge(header(cty=cty), claims()))


# -- J24: JWE and nesting confusion ------------------------------------------------------


def test_j24_jwe_is_not_a_jws(keys, verifier):
    jwe_header = enc({"alg": "dir", "enc": "A256GCM", "kid": "ed"})
    jwe = f"{jwe_header}..{b64(b'iv' * 6)}.{b64(b'ct')}.{b64(b'tag' * 5)}"
    with pytest.raises(TokenError, match="JWE"):
        verifier.verify(jwe)


def test_j24_enc_member_in_a_three_part_token(keys, verifier):
    with pytest.raises(TokenError, match=r"\(enc\)"):
        verifier.verify(keys.forge(header(enc="A256GCM"), claims()))
    with pytest.raises(TokenError, match=r"\(zip\)"):
        verifier.verify(keys.forge(header(zip="DEF"), claims()))


# -- J25: bad claims sets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'["sub"]', "not a JSON object"),
        (b'"user-1"', "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"null", "not a JSON object"),
        (b'{"sub":"a","sub":"admin","exp":1700000600,"iat":1700000000}', "duplicate member 'sub'"),
        (b'{"sub":"a\xff","exp":1700000600}', "not UTF-8"),
        (b"", "not valid JSON"),
        (b"{}{}", "not valid JSON"),
    ],
)
def test_j25_bad_claims(keys, verifier, raw, message):
    with pytest.raises(TokenError, match=message):
        verifier.verify(keys.forge(header(), b64(raw), alg="EdDSA"))
    if "JSON object" in message or "duplicate" in message:
        with pytest.raises(TokenError, match=message):
            decode_unverified(keys.forge(header(), b64(raw), alg="EdDSA"))


# -- J26: EdDSA and OKP specifics --------------------------------------------------------


def test_j26_eddsa_key_does_not_verify_the_ed25519_name_when_pinned(keys, verifier):
    # The key was published with alg EdDSA: an "Ed25519" token is another alg.
    with pytest.raises(TokenError, match="not Ed25519"):
        verifier.verify(keys.forge(header("Ed25519", "ed"), claims(), alg="EdDSA"))


def test_j26_unpinned_ed25519_key_accepts_both_names(keys):
    jwk = VerificationKey.from_public_key(keys.ed.public_key(), alg="EdDSA", kid="ed").to_jwk()
    jwk.pop("alg")
    v = TokenVerifier(JWKSet.from_dict({"keys": [jwk]}), audience=AUD, clock=lambda: NOW)
    for alg in ("EdDSA", "Ed25519"):
        assert v.verify(keys.forge(header(alg, "ed"), claims(), alg="EdDSA"))["sub"] == "user-1"
    with pytest.raises(TokenError, match="not Ed448"):
        v.verify(keys.forge(header("Ed448", "ed"), claims(), alg="EdDSA"))


def test_j26_x25519_keys(keys):
    x = {"kty": "OKP", "crv": "X25519", "x": b64(b"\x09" * 32), "kid": "x"}
    assert len(JWKSet.from_dict({"keys": [x]})) == 0
    for marks in ({"alg": "EdDSA"}, {"use": "sig"}):
        with pytest.raises(KeyFormatError, match="key agreement"):
            VerificationKey.from_jwk({**x, **marks})


def test_j26_ed448_key_under_ed25519():
    k = ed448.Ed448PrivateKey.generate().public_key()
    raw = k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed448", "x": b64(raw), "alg": "Ed25519"}
    with pytest.raises(KeyFormatError, match="does not fit curve Ed448"):
        VerificationKey.from_jwk(jwk)
    assert VerificationKey.from_jwk({**jwk, "alg": "EdDSA"}).algorithms == {"EdDSA"}


@pytest.mark.parametrize("kind", ["ed", "es", "rs"])
def test_j26_private_key_in_a_public_jwk(keys, kind):
    import jwt.algorithms as pyjwt_algorithms

    private = {"ed": keys.ed, "es": keys.es, "rs": keys.rs}[kind]
    impl = {
        "ed": pyjwt_algorithms.OKPAlgorithm,
        "es": pyjwt_algorithms.ECAlgorithm,
        "rs": pyjwt_algorithms.RSAAlgorithm,
    }[kind]
    jwk = impl.to_jwk(private, as_dict=True)
    with pytest.raises(KeyFormatError, match="private key material") as exc:
        JWKSet.from_dict({"keys": [jwk]})
    assert jwk.get("d", "") not in str(exc.value)


def test_j26_non_canonical_ed25519_signature(keys, verifier):
    good = keys.forge(header(), claims())
    h, p, s = good.split(".")
    raw = base64.urlsafe_b64decode(s + "==")
    s_value = int.from_bytes(raw[32:], "little") + ED25519_ORDER
    malleated = raw[:32] + s_value.to_bytes(32, "little")
    with pytest.raises(TokenError, match="signature does not verify"):
        verifier.verify(f"{h}.{p}.{b64(malleated)}")


# -- J27: resource exhaustion ------------------------------------------------------------


def test_j27_huge_token_refused_before_decoding(keys, verifier):
    huge = "a" * 10_000_000 + ".b.c"
    with pytest.raises(TokenError, match="more than 8192"):
        verifier.verify(huge)
    with pytest.raises(TokenError, match="more than 8192"):
        verifier.verify(huge.encode())


def test_j27_token_size_limit_is_configurable(keys):
    token = keys.forge(header(), claims(pad="x" * 10_000))
    with pytest.raises(TokenError, match="more than"):
        TokenVerifier(keys.keyset, audience=AUD, issuer=ISS, clock=lambda: NOW).verify(token)
    roomy = TokenVerifier(
        keys.keyset, audience=AUD, issuer=ISS, clock=lambda: NOW, max_token_size=32_768
    )
    assert roomy.verify(token)["pad"] == "x" * 10_000


def test_j27_deep_nesting(keys):
    roomy = TokenVerifier(keys.keyset, audience=AUD, clock=lambda: NOW, max_token_size=200_000)
    deep = b'{"sub":"u","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    with pytest.raises(TokenError, match="nested too deeply"):
        roomy.verify(keys.forge(header(), b64(deep), alg="EdDSA"))


def test_j27_enormous_integers(keys, verifier):
    for digits in (5_000, 4_000):
        body = b'{"sub":"u","iss":"%s","aud":"api","iat":1700000000,"exp":1%s}' % (
            ISS.encode(),
            b"0" * digits,
        )
        with pytest.raises(TokenError, match=r"not valid JSON|NumericDate"):
            verifier.verify(keys.forge(header(), b64(body), alg="EdDSA"))


# -- J28: constant-time MAC comparison ---------------------------------------------------


def test_j28_hmac_tags_are_compared_in_constant_time(keys, hs_verifier, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    good = keys.forge(header("HS256", "hs"), claims())
    assert hs_verifier.verify(good)["sub"] == "user-1"
    h, p, s = good.split(".")
    raw = bytearray(base64.urlsafe_b64decode(s + "=="))
    raw[-1] ^= 1
    with pytest.raises(TokenError, match="signature does not verify"):
        hs_verifier.verify(f"{h}.{p}.{b64(bytes(raw))}")
    assert calls == [(32, 32), (32, 32)]
