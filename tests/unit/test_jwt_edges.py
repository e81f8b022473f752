"""sealbox.jwt at its edges: malformed key sets, broken clocks, odd policies, trickling and
racing JWKS servers (a real HTTPS server on 127.0.0.1, that of test_jwt_remote), and what
issuing must refuse so that it never makes a token no verifier accepts."""

from __future__ import annotations

import asyncio
import http.server
import json
import math
import secrets
import threading
from collections.abc import Callable, Iterator

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sealbox.exceptions import ConfigError, FormatError, KeyFormatError, TokenError
from sealbox.jwt import (
    AsyncRemoteJWKSet,
    JWKSet,
    RemoteJWKSet,
    SigningKeySet,
    TokenVerifier,
    decode_unverified,
)
from sealbox.jwt._jws import b64url_encode
from tests.unit.test_jwt_remote import T0, Clock, JWKSServer, server, tls, url

__all__ = ["server", "tls"]  # the fixtures, used by name


def _uint(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _odd(bits: int) -> int:
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


# -- JWK Sets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": ["P-256"], "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": {"P-256": 1}, "x": "AA", "y": "AA"},
        {"kty": "EC", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": {}, "x": "AA"},
        {"kty": "OKP", "crv": ["Ed25519"], "x": "AA"},
    ],
)
def test_a_jwk_whose_crv_is_not_a_string_is_a_key_format_error(jwk):
    with pytest.raises(KeyFormatError, match="'crv' is missing or not a string"):
        JWKSet.from_dict({"keys": [jwk]})


def test_a_long_unknown_curve_or_alg_is_cut_short_in_the_message():
    for jwk in (
        {"kty": "EC", "crv": "P" * 5000, "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "E" * 5000, "x": "AA"},
        {"kty": "RSA", "alg": "R" * 5000, "n": "AA", "e": "AQAB"},
    ):
        with pytest.raises(KeyFormatError) as info:
            JWKSet.from_dict({"keys": [jwk]})
        assert len(str(info.value)) < 200


def test_a_remote_jwks_with_a_non_string_crv_fails_as_unreachable_not_with_a_type_error(
    server, tls
):
    server.body = json.dumps({"keys": [{"kty": "EC", "crv": [], "x": "AA", "y": "AA"}]}).encode()
    source = RemoteJWKSet(url(server), ca=tls[1], clock=Clock())
    with source, pytest.raises(TokenError, match="'crv' is missing") as info:
        source.find("k")
    assert info.value.code == "jwks_unreachable"


@pytest.mark.parametrize("data", [5, None, {"keys": []}, ["{}"]])
def test_jwks_from_json_of_the_wrong_type_is_a_deliberate_type_error(data):
    with pytest.raises(TypeError, match="JWK Set's JSON text, as str or bytes"):
        JWKSet.from_json(data)


def test_an_rsa_modulus_over_16384_bits_is_refused_at_import():
    jwk = {"kty": "RSA", "kid": "big", "n": _uint(_odd(16385)), "e": "AQAB"}
    with pytest.raises(KeyFormatError, match="16385 bits; at most 16384"):
        JWKSet.from_dict({"keys": [jwk]})
    jwk["n"] = _uint(_odd(16384))
    assert "big" in JWKSet.from_dict({"keys": [jwk]})


def _rsa_with_exponent(bits: int, e: int) -> rsa.RSAPrivateKey:
    base = rsa.generate_private_key(65537, bits).private_numbers()
    p, q = base.p, base.q
    phi = (p - 1) * (q - 1)
    while math.gcd(e, phi) != 1:
        e += 2
    d = pow(e, -1, phi)
    public = rsa.RSAPublicNumbers(e, p * q)
    return rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), public
    ).private_key()


def test_a_large_rsa_exponent_on_a_large_modulus_is_refused_because_it_never_verifies():
    key = _rsa_with_exponent(3200, (1 << 80) + 1)
    # The reason: OpenSSL refuses such a key when verifying, whatever the signature.
    signature = key.sign(b"m", padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        key.public_key().verify(signature, b"m", padding.PKCS1v15(), hashes.SHA256())
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": "e", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    with pytest.raises(KeyFormatError, match="public exponent is 81 bits"):
        JWKSet.from_dict({"keys": [jwk]})


def test_a_large_rsa_exponent_on_a_2048_bit_modulus_still_verifies():
    key = _rsa_with_exponent(2048, (1 << 80) + 1)
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": "e", "alg": "RS256", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    found = JWKSet.from_dict({"keys": [jwk]}).find("e")
    signature = key.sign(b"m", padding.PKCS1v15(), hashes.SHA256())
    assert found.spec("RS256").impl.verify(b"m", found.key, signature)


# -- the verifier's policy and clock -----------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> SigningKeySet:
    return SigningKeySet.generate()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_now_is_a_config_error_not_an_accepted_expired_token(keys, bad):
    expired = keys.issue("u", ttl=1, now=T0)
    with pytest.raises(ConfigError, match="not finite"):
        keys.verifier().verify(expired, now=bad)
    with pytest.raises(ConfigError, match="not finite"):
        TokenVerifier(keys, clock=lambda: bad).verify(expired)


def test_a_now_that_is_not_a_number_is_a_deliberate_type_error(keys):
    token = keys.issue("u", now=T0)
    with pytest.raises(TypeError, match="seconds since the epoch, a number"):
        keys.verifier().verify(token, now="1700000000")  # type: ignore[arg-type]


def test_required_claims_given_as_one_string_is_one_claim_not_its_letters(keys):
    verifier = TokenVerifier(keys, required_claims="exp")
    assert verifier.verify(keys.issue("u", now=T0), now=T0)["sub"] == "u"
    unbounded = keys.sign({"sub": "u", "iat": T0})
    with pytest.raises(TokenError, match="no 'exp' claim"):
        verifier.verify(unbounded, now=T0)


def test_a_required_sub_that_is_empty_names_no_one_and_is_refused(keys):
    token = keys.sign({"sub": "", "iat": T0, "exp": T0 + 60})
    with pytest.raises(TokenError, match="'sub' claim is empty"):
        keys.verifier().verify(token, now=T0)
    # Where the subject is not required, an empty one is the caller's to judge.
    assert TokenVerifier(keys, required_claims=("exp",)).verify(token, now=T0)["sub"] == ""


def test_a_signed_claim_holding_an_unpaired_surrogate_escape_is_refused(keys):
    # A signed, well-formed token whose "sub" is the escape of half a surrogate pair:
    # the claim would fail the app's first UTF-8 write (an answer, a database row).
    lone = keys.issue("\ud800", now=T0)
    with pytest.raises(TokenError, match="unpaired surrogate escape"):
        keys.verifier().verify(lone, now=T0)
    paired = keys.issue("\U0001f600", now=T0)  # escaped as a whole pair: a code point
    assert keys.verifier().verify(paired, now=T0)["sub"] == "\U0001f600"


def test_a_nan_max_age_is_a_config_error_rather_than_no_bound(keys):
    with pytest.raises(ConfigError, match="max_age"):
        TokenVerifier(keys, max_age=math.nan)


@pytest.mark.parametrize(("name", "value"), [("leeway", "5"), ("max_age", "60"), ("leeway", True)])
def test_a_leeway_or_max_age_of_the_wrong_type_is_a_deliberate_type_error(keys, name, value):
    with pytest.raises(TypeError, match=f"{name} must be a number of seconds"):
        TokenVerifier(keys, **{name: value})


def test_a_long_typ_is_cut_short_in_the_refusal(keys):
    token = keys.sign({"sub": "u", "iat": T0, "exp": T0 + 60}, token_type="x" * 4000)
    with pytest.raises(TokenError, match="type") as info:
        keys.verifier().verify(token, now=T0)
    assert len(str(info.value)) < 200


# -- issuing -----------------------------------------------------------------------------


@pytest.mark.parametrize("now", [math.nan, math.inf, -1, 10**13])
def test_issue_refuses_a_time_no_verifier_accepts(keys, now):
    with pytest.raises(ConfigError, match="between 1970 and the end of year 9999"):
        keys.issue("u", now=now)


def test_issue_refuses_a_ttl_that_takes_exp_past_year_9999(keys):
    with pytest.raises(ConfigError, match="past the end of year 9999"):
        keys.issue("u", ttl=10**12, now=T0)


def test_issue_refuses_a_not_before_that_is_not_a_number(keys):
    with pytest.raises(TypeError, match="not_before must be seconds since the epoch"):
        keys.issue("u", not_before="soon", now=T0)  # type: ignore[arg-type]


def test_sign_refuses_nan_claims_rather_than_make_a_token_that_never_verifies(keys):
    with pytest.raises(ConfigError, match="not JSON"):
        keys.sign({"sub": "u", "x": math.nan})
    with pytest.raises(ConfigError, match="not JSON"):
        keys.issue("u", claims={"ratio": math.inf})


@pytest.mark.parametrize("token_type", ["", b"at+jwt", 1])
def test_issue_refuses_a_token_type_no_verifier_can_ask_for(keys, token_type):
    # A verifier's token_type is a non-empty media type (or None, for any): a token
    # whose typ is empty or not a string could only pass a verifier that ignores typ.
    with pytest.raises(ConfigError, match="token_type must be a media type"):
        keys.issue("u", now=T0, token_type=token_type)
    with pytest.raises(ConfigError, match="token_type must be a media type"):
        keys.sign({"sub": "u"}, token_type=token_type)
    assert "typ" not in decode_unverified(keys.issue("u", now=T0, token_type=None)).header


@pytest.mark.parametrize("claims", [{1: "a", "1": "b"}, [("sub", "u")], "sub"])
def test_sign_refuses_claims_that_are_not_a_mapping_of_names(keys, claims):
    with pytest.raises(TypeError, match="claims must be a mapping of claim names"):
        keys.sign(claims)


def test_a_deeply_nested_keyset_document_is_a_format_error():
    with pytest.raises(FormatError, match="not valid JSON"):
        SigningKeySet.from_unencrypted(b"[" * 100_000)


# -- remote key sets: URLs, trickling servers, racing threads -----------------------------


@pytest.mark.parametrize("bad", ["https://[::1", "https://", "https:///jwks.json"])
def test_a_malformed_or_hostless_jwks_url_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="JWK Set URL"):
        RemoteJWKSet(bad)
    with pytest.raises(ConfigError, match="JWK Set URL"):
        AsyncRemoteJWKSet(bad)


def test_the_cli_reports_a_malformed_jwks_url_as_an_error_not_an_internal_one(cli, keys):
    result = cli(["jwt", "verify", "--jwks", "https://[::1", "-"], input=keys.issue("u").encode())
    assert result.code == 1
    assert "not a valid URL" in result.stderr
    assert "internal" not in result.stderr


# Only turns a fetch that never ends into a failure; never reached on a slow machine.
GUARD = 30.0


class _TrickleServer(http.server.ThreadingHTTPServer):
    """Announces a key set, then sends it a byte every 50 ms, for hours: its answer never
    ends within a test, so a fetch that ends at all was ended by its own deadline."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TrickleHandler)
        self.stop = threading.Event()


class _TrickleHandler(http.server.BaseHTTPRequestHandler):
    server: _TrickleServer

    def do_GET(self) -> None:
        length = 400 * 1024  # within the key set size limit: only the time is at fault
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            for _ in range(length):
                self.wfile.write(b" ")
                self.wfile.flush()
                if self.server.stop.wait(0.05):
                    return
        except OSError:
            pass  # the client gave up

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def trickle(tls) -> Iterator[_TrickleServer]:
    srv = _TrickleServer()
    srv.socket = tls[0].wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()


def _raised_within_guard(call: Callable[[], object], what: str) -> BaseException | None:
    """Run ``call`` on a thread; return what it raised (``None``: nothing).

    The wait is :data:`GUARD`: a fetch whose deadline does not hold would follow the
    trickle for hours, and fails here instead of hanging the run."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD)
    if thread.is_alive():
        pytest.fail(f"{what} still ran after {GUARD} s, following the trickle")
    return outcome[0]


def test_a_trickling_jwks_server_cannot_hold_a_fetch_past_its_timeout(trickle, tls):
    source = RemoteJWKSet(url(trickle), ca=tls[1], timeout=0.5, clock=Clock())
    with source:
        exc = _raised_within_guard(lambda: source.find("k"), "the fetch")
    assert isinstance(exc, TokenError), exc
    assert "timed out" in str(exc)
    assert exc.code == "jwks_unreachable"


def test_a_trickling_jwks_server_cannot_hold_an_async_fetch_past_its_timeout(trickle, tls):
    async def run() -> None:
        async with AsyncRemoteJWKSet(url(trickle), ca=tls[1], timeout=0.5, clock=Clock()) as src:
            await src.ensure("k")

    exc = _raised_within_guard(lambda: asyncio.run(run()), "the async fetch")
    assert isinstance(exc, TokenError), exc
    assert "timed out" in str(exc)
    assert exc.code == "jwks_unreachable"


def test_many_threads_with_unknown_kids_at_once_share_one_refetch(server: JWKSServer, tls):
    keys = SigningKeySet.generate()
    server.publish(keys)
    clock = Clock()
    source = RemoteJWKSet(url(server), ca=tls[1], clock=clock, min_refresh_interval=30)
    verifier = TokenVerifier(source)
    source.refresh()
    assert server.hits == 1
    clock.now += 31  # a refetch for an unknown kid is allowed again, once
    forged = SigningKeySet.generate()
    tokens = [forged.issue(f"u{i}", now=T0) for i in range(32)]
    barrier = threading.Barrier(len(tokens))
    errors: list[BaseException] = []

    def attempt(token: str) -> None:
        barrier.wait()
        try:
            verifier.verify(token, now=T0)
        except BaseException as exc:  # noqa: BLE001 - collected and checked below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == len(tokens)
    assert all(type(e) is TokenError and "no key with id" in str(e) for e in errors)
    assert server.hits == 2
    # The known key still verifies, from the cache.
    assert verifier.verify(keys.issue("u", now=T0), now=T0)["sub"] == "u"
    assert server.hits == 2
    source.close()


def _rsa_jwk() -> dict[str, object]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    numbers = key.public_numbers()
    return {
        "kty": "RSA",
        "n": b64url_encode(numbers.n.to_bytes(256, "big")),
        "e": b64url_encode(numbers.e.to_bytes(3, "big")),
    }


def test_a_jwks_with_two_kidless_keys_for_one_algorithm_loads_and_asks_for_a_kid():
    jwks = JWKSet.from_dict({"keys": [_rsa_jwk(), _rsa_jwk()]})
    assert len(jwks) == 2
    with pytest.raises(TokenError) as caught:
        jwks.find(None, alg="RS256")
    assert caught.value.code == "kid_needed"


def test_a_jwks_holding_a_key_of_an_unknown_type_with_an_unknown_alg_still_loads():
    # RFC 7517 §5: a key type not understood is ignored, its alg with it (a post-quantum
    # "AKP" key beside the RS256 one must not take the issuer's whole set down).
    rsa_key = {**_rsa_jwk(), "kid": "r1"}
    pq = {"kty": "AKP", "alg": "ML-DSA-44", "kid": "pq1", "pub": b64url_encode(b"\x01" * 1312)}
    jwks = JWKSet.from_dict({"keys": [pq, rsa_key]})
    assert "r1" in jwks
    assert "pq1" not in jwks
    with pytest.raises(TokenError, match="no key with id 'pq1'"):
        jwks.find("pq1")
