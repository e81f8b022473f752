"""JWS compact serialization (RFC 7515 §7.1), strictly parsed, signed and verified.

The JOSE framing is done here, the signatures by :mod:`sealbox.jwt._algorithms`
on pyca/cryptography. sealbox frames tokens itself because a verifier must be
stricter than the usual decoders: base64url
without padding, ``+``, ``/``, whitespace or stray bits (RFC 7515 §2); JSON with
no duplicate member names (RFC 7515 §4, RFC 8725 §3.7) and no NaN; no ``crit``,
``b64``, ``jwk``, ``jku``, ``x5u`` or ``x5c`` header members (RFC 8725 §3.10);
and a size cap checked before anything is decoded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sealbox._util.json_objects import DuplicateMemberError, unique_members
from sealbox.exceptions import TokenError
from sealbox.jwt._algorithms import (
    Algorithm,
    ECDSAAlgorithm,
    EdDSAAlgorithm,
    HMACAlgorithm,
    RSAAlgorithm,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_MAX_TOKEN_SIZE",
    "AlgorithmSpec",
    "CompactJWS",
    "b64url_decode",
    "b64url_encode",
    "encode_header",
    "parse_compact",
    "sign_compact",
    "strict_json",
]

DEFAULT_MAX_TOKEN_SIZE: Final = 8 * 1024
"""Tokens longer than this (in characters) are refused before decoding (RFC 8725bis)."""


@dataclass(frozen=True, slots=True)
class AlgorithmSpec:
    """A JWS ``alg`` value and the one kind of key it may be used with (RFC 8725 §3.1).

    Attributes:
        name: the ``alg`` value (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864).
        kty: the JWK key type it needs: ``RSA``, ``EC``, ``OKP`` or ``oct``.
        curves: the ``crv`` values it accepts (EC and OKP keys).
        min_key_bytes: for HMAC, the shortest key (the hash output size, RFC 7518 §3.2).
        impl: the implementation (sign, verify, private JWKs).
    """

    name: str
    kty: str
    curves: frozenset[str]
    min_key_bytes: int
    impl: Algorithm


def _spec(
    name: str, kty: str, impl: Algorithm, curves: tuple[str, ...] = (), minimum: int = 0
) -> AlgorithmSpec:
    return AlgorithmSpec(name, kty, frozenset(curves), minimum, impl)


_OKP = EdDSAAlgorithm()
ALGORITHMS: Final[Mapping[str, AlgorithmSpec]] = {
    s.name: s
    for s in (
        _spec("HS256", "oct", HMACAlgorithm(hashlib.sha256), minimum=32),
        _spec("HS384", "oct", HMACAlgorithm(hashlib.sha384), minimum=48),
        _spec("HS512", "oct", HMACAlgorithm(hashlib.sha512), minimum=64),
        _spec("RS256", "RSA", RSAAlgorithm(hashes.SHA256, pss=False)),
        _spec("RS384", "RSA", RSAAlgorithm(hashes.SHA384, pss=False)),
        _spec("RS512", "RSA", RSAAlgorithm(hashes.SHA512, pss=False)),
        _spec("PS256", "RSA", RSAAlgorithm(hashes.SHA256, pss=True)),
        _spec("PS384", "RSA", RSAAlgorithm(hashes.SHA384, pss=True)),
        _spec("PS512", "RSA", RSAAlgorithm(hashes.SHA512, pss=True)),
        _spec("ES256", "EC", ECDSAAlgorithm(hashes.SHA256, ec.SECP256R1, "P-256"), ("P-256",)),
        _spec("ES384", "EC", ECDSAAlgorithm(hashes.SHA384, ec.SECP384R1, "P-384"), ("P-384",)),
        _spec("ES512", "EC", ECDSAAlgorithm(hashes.SHA512, ec.SECP521R1, "P-521"), ("P-521",)),
        # RFC 8037 "EdDSA" (either curve) and the fully specified RFC 9864 names.
        _spec("EdDSA", "OKP", _OKP, ("Ed25519", "Ed448")),
        _spec("Ed25519", "OKP", _OKP, ("Ed25519",)),
        _spec("Ed448", "OKP", _OKP, ("Ed448",)),
    )
}
"""Every JWS algorithm sealbox verifies. ``none`` is not one of them, ever."""

# Header members that would let the token choose its own verification key or
# change how it is processed. Verification keys come only from the caller.
_REFUSED_MEMBERS: Final = {
    "jwk": "an embedded key (jwk)",
    "jku": "a key set URL (jku)",
    "x5u": "a certificate URL (x5u)",
    "x5c": "an embedded certificate chain (x5c)",
    "crit": "critical extensions (crit)",
    "b64": "an unencoded payload (b64)",
    "enc": "a JWE content encryption (enc)",
    "zip": "a compressed payload (zip)",
}
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_B64_RE: Final = re.compile(r"[A-Za-z0-9_-]*")
_B64_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_INDEX: Final = {c: i for i, c in enumerate(_B64_ALPHABET)}
_MAX_KID: Final = 256


@dataclass(frozen=True, slots=True)
class CompactJWS:
    """A parsed, not yet verified, compact JWS.

    Attributes:
        header: the protected header (a JSON object).
        payload: the payload bytes.
        signing_input: ``BASE64URL(header) || '.' || BASE64URL(payload)`` as received.
        signature: the signature bytes.
        alg: the header's ``alg``, one of :data:`ALGORITHMS`.
        kid: the header's ``kid``, if any.
    """

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes
    alg: str
    kid: str | None

    def verify_with(self, impl: Algorithm, key: Any) -> bool:
        """Check the signature with an algorithm and a key."""
        return bool(impl.verify(self.signing_input, key, self.signature))


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str, where: str, *, canonical: bool = True) -> bytes:
    """Strict base64url (RFC 7515 §2): no padding, no other characters, no stray bits.

    Args:
        segment: the text, already known to hold only base64url characters when
            it comes from a token.
        where: how the error message names it.
        canonical: also refuse non-zero unused bits in the last character. Token
            segments must be canonical (the signature covers the text as sent);
            key members are decoded with ``False``, as a leftover bit there
            changes nothing.

    Raises:
        TokenError: the segment is not valid base64url (the message names ``where``).
    """
    if not _B64_RE.fullmatch(segment):
        raise TokenError(f"the {where} is not valid base64url")
    return _decode_segment(segment, where, canonical=canonical)


def _decode_segment(segment: str, where: str, *, canonical: bool = True) -> bytes:
    # The caller has checked the alphabet (the whole token matched _TOKEN_RE).
    rest = len(segment) % 4
    if rest == 1:
        raise TokenError(f"the {where} is not valid base64url (impossible length)")
    # 2 leftover characters carry 4 unused bits, 3 carry 2: they must be zero.
    if rest and canonical and _B64_INDEX[segment[-1]] & (0x0F if rest == 2 else 0x03):
        raise TokenError(f"the {where} is not canonical base64url (unused bits set)")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError:
        raise TokenError(f"the {where} is not valid base64url") from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(data: bytes, where: str) -> Any:
    """Parse UTF-8 JSON, refusing duplicate member names, NaN, Infinity and unpaired
    surrogate escapes.

    Raises:
        TokenError: invalid UTF-8 or JSON, or a duplicate name (quoted; code
            ``duplicate_member``, facts ``member`` and ``part``: ``where``).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError(f"the {where} is not UTF-8") from None
    try:
        parsed = json.loads(text, object_pairs_hook=unique_members, parse_constant=_no_constants)
        if "\\u" in text:
            # An escape of half a surrogate pair ("\ud800" alone) parses to a string no
            # UTF-8 writer takes: a claim holding one would fail the app's answer or
            # database write later, so the token is refused here.
            json.dumps(parsed, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise TokenError(f"the {where} holds an unpaired surrogate escape") from None
    except DuplicateMemberError as exc:
        # The code and fact a JWK Set's duplicate has (JWKSet.from_json).
        raise TokenError(
            f"the {where} has a duplicate member {_quote(exc.name)}",
            code="duplicate_member",
            facts={"member": exc.name[:40], "part": where},
        ) from None
    except RecursionError:
        raise TokenError(f"the {where} is nested too deeply") from None
    except ValueError:  # JSONDecodeError, NaN, integers past the digit limit
        raise TokenError(f"the {where} is not valid JSON") from None
    return parsed


def _quote(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _explain_shape(token: str) -> str:  # noqa: PLR0911 - one return per shape named
    # Called only for a token that failed the pattern: say what is wrong without
    # echoing it (a token is a credential).
    if not token:
        return "the token is empty"
    if token.lstrip().startswith("{"):
        return "JWS JSON serialization is not accepted: a JWT is compact (RFC 7519 §7.2)"
    if token[:7].lower() == "bearer ":  # a whole Authorization header's value
        return (
            "the token starts with 'Bearer', the scheme of an Authorization header: "
            "give the token alone"
        )
    parts = token.count(".") + 1
    if parts == 5:
        return "the token is a JWE (5 parts), not a signed JWT"
    if parts != 3:
        return f"a signed JWT has 3 dot-separated parts, this token has {parts}"
    for index, char in enumerate(token):
        if char == "." or char in _B64_INDEX:
            continue
        if char == "=":
            kind = "base64 padding '='"
        elif char in "+/":
            kind = f"{char!r}, which is standard base64, not base64url"
        elif char.isspace():
            kind = "whitespace"
        else:
            kind = "a character outside base64url"
        return f"the token holds {kind} at offset {index}"
    return "the token's header is empty"


def parse_compact(  # noqa: PLR0912 - one branch per RFC 7515 §5.2 check
    token: str | bytes, *, max_size: int = DEFAULT_MAX_TOKEN_SIZE
) -> CompactJWS:
    """Parse a compact JWS strictly (RFC 7515 §5.2 steps 1-8), without verifying it.

    Raises:
        TokenError: the token is too large (code ``token_too_large``, facts ``size``
            and ``max``), malformed, uses ``none`` or an unsupported ``alg``, or has a
            refused header member (code ``header_member_refused``, fact ``member``).
        TypeError: ``token`` is not ``str`` or ``bytes``.
    """
    if isinstance(token, bytes | bytearray):
        if len(token) > max_size:
            raise _too_large(len(token), "bytes", max_size)
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise TokenError("the token holds bytes outside base64url") from None
    elif not isinstance(token, str):
        raise TypeError("token must be str or bytes")
    if len(token) > max_size:
        raise _too_large(len(token), "characters", max_size)
    if _TOKEN_RE.fullmatch(token) is None:
        raise TokenError(_explain_shape(token))
    h64, p64, s64 = token.split(".")
    header = strict_json(_decode_segment(h64, "header"), "header")
    if not isinstance(header, dict):
        raise TokenError("the header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TokenError("the header has no 'alg' string")
    if alg.strip().lower() == "none":
        raise TokenError("unsecured tokens (alg 'none') are never accepted")
    if alg not in ALGORITHMS:
        raise TokenError(f"unsupported alg {_quote(alg)}")
    for member, what in _REFUSED_MEMBERS.items():
        if member in header:
            raise TokenError(
                f"the header carries {what}, which sealbox does not accept",
                code="header_member_refused",
                facts={"member": member},
            )
    # "kid": null is malformed, not absent: it must not pass for a token without a kid.
    kid = header.get("kid")
    if "kid" in header and (not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID):
        raise TokenError(f"the header's 'kid' must be a string of 1 to {_MAX_KID} characters")
    payload = _decode_segment(p64, "payload")
    signature = _decode_segment(s64, "signature")
    if not signature:
        raise TokenError("the token has no signature")
    return CompactJWS(header, payload, f"{h64}.{p64}".encode("ascii"), signature, alg, kid)


def _too_large(size: int, unit: str, max_size: int) -> TokenError:
    return TokenError(
        f"the token is {size} {unit} long, more than {max_size}",
        code="token_too_large",
        facts={"size": str(size), "max": str(max_size)},
    )


def encode_header(header: Mapping[str, Any]) -> str:
    """The base64url of a header's compact JSON."""
    return b64url_encode(json.dumps(header, separators=(",", ":")).encode())


def sign_compact(h64: str, payload: bytes, impl: Algorithm, key: Any) -> str:
    """Return ``h64.payload.signature`` signed with an algorithm and a private key.

    ``h64`` is the header already encoded (:func:`encode_header`), so that a
    signer can encode it once per key.
    """
    signing_input = f"{h64}.{b64url_encode(payload)}"
    signature = impl.sign(signing_input.encode("ascii"), key)
    return f"{signing_input}.{b64url_encode(signature)}"
