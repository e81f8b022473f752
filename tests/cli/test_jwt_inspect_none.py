"""`sealbox jwt inspect` shows an unsigned (`alg: none`) token, with a warning; `jwt verify`
and the library still refuse it."""

from __future__ import annotations

import base64
import json

import pytest

from sealbox.exceptions import TokenError
from sealbox.jwt import JWKSet, TokenVerifier, decode_unverified
from tests.cli._jwt import _through_click

UNSIGNED = (
    "sealbox: warning: unsigned: the header says alg 'none', so anyone could have written "
    "this token; 'sealbox jwt verify' and sealbox's verifiers refuse it\n"
)
NOT_VERIFIED = "sealbox: warning: not verified: the signature and claims were not checked\n"
CLAIMS = {"sub": "admin", "aud": "api", "exp": 4102444800, "iat": 1700000000, "role": "root"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict | bytes, claims: dict | bytes = CLAIMS, signature: str = "") -> str:
    raw_header = header if isinstance(header, bytes) else json.dumps(header).encode()
    raw_claims = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    return f"{_b64(raw_header)}.{_b64(raw_claims)}.{signature}"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", " none"])
@pytest.mark.parametrize("signature", ["", _b64(b"x" * 64)])
def test_inspect_shows_an_unsigned_token_with_a_warning(cli, alg: str, signature: str):
    header = {"alg": alg, "typ": "JWT", "kid": "k1"}
    token = forge(header, signature=signature)
    result = cli(["jwt", "inspect", "-"], input=token.encode())
    assert result.code == 0, result.stderr
    assert json.loads(result.out) == {"verified": False, "header": header, "claims": CLAIMS}
    assert result.stderr == UNSIGNED + NOT_VERIFIED


def test_a_signed_token_is_shown_without_the_unsigned_warning(cli):
    token = forge({"alg": "HS256"}, signature=_b64(b"s" * 32))
    result = cli(["jwt", "inspect"], input=token.encode())
    assert (result.code, result.stderr) == (0, NOT_VERIFIED)


@pytest.mark.parametrize("path", ["direct", "click"])
def test_verify_still_refuses_the_token_inspect_shows(cli, monkeypatch, jwks_file, path: str):
    run = cli if path == "direct" else _through_click(monkeypatch)
    for signature in ("", _b64(b"x" * 64)):
        token = forge({"alg": "none", "kid": "k1"}, signature=signature)
        result = run(
            ["jwt", "verify", "--jwks", jwks_file, "--aud", "api", "-"], input=token.encode()
        )
        assert result.code == 1
        assert result.out == ""
        assert result.stderr.startswith(
            "sealbox: error: unsecured tokens (alg 'none') are never accepted\n"
        )


def test_the_library_still_refuses_it_in_decode_and_verify(jwks_file):
    token = forge({"alg": "none"})
    with pytest.raises(TokenError, match=r"alg 'none'"):
        decode_unverified(token)
    verifier = TokenVerifier(JWKSet.from_json(jwks_file.read_text()), audience="api")
    with pytest.raises(TokenError, match=r"alg 'none'"):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("token", "error"),
    [
        # What any token is refused for, an unsigned one is too.
        (
            forge({"alg": "none", "jwk": {"kty": "oct", "k": "AA"}}),
            "the header carries an embedded key (jwk), which sealbox does not accept",
        ),
        (
            forge({"alg": "none", "kid": ""}),
            "the header's 'kid' must be a string of 1 to 256 characters",
        ),
        (
            forge({"alg": "none"}, b'{"sub":"a","sub":"b"}'),
            "the claims set has a duplicate member 'sub'",
        ),
        (forge({"alg": "none"}, b"[1]"), "the claims set is not a JSON object"),
        # The header's own faults are the library's refusal of it, as before.
        (forge(b'{"alg":"HS256","alg":"none"}'), "the header has a duplicate member 'alg'"),
        (forge({"alg": "XS256"}), "unsupported alg 'XS256'"),
        (forge({"alg": ["none"]}), "the header has no 'alg' string"),
        (forge({"alg": "none"}, {"pad": "x" * 9000}), "the token is "),
    ],
)
def test_an_unsigned_token_is_parsed_by_every_other_rule(cli, token: str, error: str):
    result = cli(["jwt", "inspect", "-"], input=token.encode())
    assert result.code == 1
    assert result.out == ""
    assert result.stderr.startswith(f"sealbox: error: {error}")
    assert "unsigned" not in result.stderr
