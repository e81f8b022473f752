"""The signing keyset document: its JSON form, read and written, and the record of one key.

The document (``docs/formats.md``)::

    {"format": "sealbox-jwt-keyset/1", "primary": "<kid>",
     "keys": [{"kid", "alg", "state", "created", "destroyed", "jwk"}, ...]}

``state`` is written in the words of :class:`~sealbox.keysets.lifecycle.KeyState`:
``active`` (the primary key, the one key that signs), ``decrypt-only`` (verifies the
tokens it signed, signs nothing), ``disabled`` (kept, verifies nothing, not published),
``destroyed`` (``jwk`` is ``null``; ``destroyed`` is when). Files written before that
vocabulary say ``"status": "active"`` for every key that verifies and
``"status": "retired"`` (with a ``retired`` time) for an erased one; they read as
*active* for the primary key, *decrypt-only* for the others, and *destroyed*.

Key ids are the RFC 7638 JWK thumbprint (SHA-256) of the public key; an HMAC key gets
a random id instead, so that nothing derived from the secret is shown.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from sealbox.exceptions import (
    ConfigError,
    FormatError,
    KeyFormatError,
    KeyStateError,
    UnsupportedAlgorithmError,
)
from sealbox.jwt._jws import ALGORITHMS, b64url_encode
from sealbox.jwt.defaults import (
    DEFAULT_ALGORITHM,
    HMAC_KEY_SIZE,
    RSA_KEY_SIZES,
    SIGNING_ALGORITHMS,
)
from sealbox.jwt.jwk import VerificationKey
from sealbox.keysets.lifecycle import KeyState
from sealbox.keysets.sealed import format_time, parse_time

__all__ = [
    "DEFAULT_ALGORITHM",
    "FORMAT",
    "HMAC_KEY_SIZE",
    "MAX_FILE_SIZE",
    "RSA_KEY_SIZES",
    "SEALED_FORMAT",
    "SERVICE_SEALED_FORMAT",
    "SIGNING_ALGORITHMS",
    "SigningEntry",
    "claims_json",
    "issue_times",
    "new_entry",
    "now_utc",
    "parse_document",
    "private_jwk",
    "random_kid",
    "render_document",
    "settle_states",
    "thumbprint",
]

FORMAT: Final = "sealbox-jwt-keyset/1"
SEALED_FORMAT: Final = "sealbox-jwt-keyset-sealed/1"
#: The format of a service's signing keyset (``jwt-keyset.sealed`` in its data folder),
#: sealed under the folder's master key, not a passphrase.
SERVICE_SEALED_FORMAT: Final = "sealbox-service-jwt-keyset/1"
MAX_FILE_SIZE: Final = 4 * 1024 * 1024


class SigningEntry:
    """One key of a keyset, private key included (the repr shows the id and state only)."""

    __slots__ = ("alg", "created", "destroyed", "kid", "private", "public", "state")

    def __init__(  # noqa: PLR0917 - private record, built in two places
        self,
        kid: str,
        alg: str,
        state: KeyState,
        created: datetime,
        private: Any,
        destroyed: datetime | None = None,
    ) -> None:
        self.kid = kid
        self.alg = alg
        self.state = state
        self.created = created
        self.destroyed = destroyed
        self.private = private
        self.public: VerificationKey | None = None
        self.publish()

    def publish(self) -> None:
        """Set :attr:`public`, the key that verifies, if the state lets it verify."""
        self.public = None
        if self.private is not None and self.state.usable:
            if self.alg == "HS256":
                self.public = VerificationKey.from_hmac_secret(
                    self.private, alg=self.alg, kid=self.kid
                )
            else:
                self.public = VerificationKey.from_public_key(
                    self.private.public_key(), alg=self.alg, kid=self.kid
                )

    def __repr__(self) -> str:
        return f"SigningEntry(kid={self.kid!r}, alg={self.alg!r}, state={self.state.value!r})"


def now_utc(now: datetime | None) -> datetime:
    """``now`` (or the clock), in UTC, whole seconds."""
    return (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def random_kid(taken: Iterable[str]) -> str:
    """A random key id (for HMAC keys) not in ``taken``."""
    used = set(taken)
    while True:
        kid = secrets.token_urlsafe(12)
        if kid not in used:
            return kid


_THUMBPRINT_MEMBERS: Final = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def thumbprint(public: VerificationKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256) of a public key: its key id."""
    # RFC 7638 §3: the required members in lexicographic order, no whitespace.
    jwk = public.to_jwk()
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[public.kty]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(hashlib.sha256(canonical).digest())


def new_entry(
    alg: str, taken: Iterable[str], now: datetime | None, rsa_key_size: int = 2048
) -> SigningEntry:
    """A fresh active key.

    Raises:
        UnsupportedAlgorithmError: an algorithm the keyset cannot sign with.
        ConfigError: an RSA size not offered.
    """
    if alg not in SIGNING_ALGORITHMS:
        raise UnsupportedAlgorithmError(
            f"a keyset cannot sign with {alg!r} (supported: {', '.join(SIGNING_ALGORITHMS)})"
        )
    taken = set(taken)
    created = now_utc(now)
    if alg == "HS256":
        return SigningEntry(
            random_kid(taken), alg, KeyState.ACTIVE, created, os.urandom(HMAC_KEY_SIZE)
        )
    private: Any
    if alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        if rsa_key_size not in RSA_KEY_SIZES:
            raise ConfigError(f"rsa_key_size must be one of {', '.join(map(str, RSA_KEY_SIZES))}")
        private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)
    probe = VerificationKey.from_public_key(private.public_key(), alg=alg, kid=None)
    kid = thumbprint(probe)
    if kid in taken:  # only if the same key were generated twice
        raise KeyStateError("the new key's id is already in the keyset")
    return SigningEntry(kid, alg, KeyState.ACTIVE, created, private)


def private_jwk(alg: str, private: Any) -> dict[str, Any]:
    """The private JWK of a key (for the document, and to compare two keys)."""
    if alg == "HS256":
        return {"kty": "oct", "k": b64url_encode(private)}
    return ALGORITHMS[alg].impl.to_jwk(private)


def _load_private(alg: str, jwk: object, where: str) -> Any:
    if not isinstance(jwk, dict) or ("d" not in jwk and alg != "HS256"):
        raise KeyFormatError(f"{where}.jwk must be a private JWK")
    try:
        private = ALGORITHMS[alg].impl.from_jwk(jwk)
    except (ValueError, KeyError, TypeError, UnsupportedAlgorithm):
        raise KeyFormatError(f"{where}.jwk is not a valid {alg} private key") from None
    if alg == "HS256":
        ok = isinstance(private, bytes) and len(private) >= HMAC_KEY_SIZE
    elif alg == "ES256":
        ok = isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(
            private.curve, ec.SECP256R1
        )
    elif alg == "RS256":
        ok = isinstance(private, rsa.RSAPrivateKey) and private.key_size >= 2048
    else:
        ok = isinstance(private, ed25519.Ed25519PrivateKey)
    if not ok:
        raise KeyFormatError(f"{where}.jwk is not a usable {alg} private key")
    return private


def _parse_entry(obj: object, index: int) -> SigningEntry:
    where = f"keys[{index}]"
    if not isinstance(obj, dict):
        raise FormatError(f"{where} must be an object")
    kid = obj.get("kid")
    if not isinstance(kid, str) or not kid:
        raise FormatError(f"{where}.kid must be a non-empty string")
    alg = obj.get("alg")
    if alg not in SIGNING_ALGORITHMS:
        raise UnsupportedAlgorithmError(
            f"{where}: unknown signing algorithm {alg!r}", facts={"alg": str(alg)}
        )
    # Files before the shared vocabulary say "status" (active, retired).
    field = "state" if "state" in obj else "status"
    state = KeyState.parse(str(obj.get(field)), f"{where}.{field}")
    created = parse_time(obj.get("created"), f"{where}.created")
    field = "destroyed" if "destroyed" in obj else "retired"
    at = obj.get(field)
    destroyed = None if at is None else parse_time(at, f"{where}.{field}")
    raw = obj.get("jwk")
    if state is KeyState.DESTROYED:
        if raw is not None:
            raise FormatError(f"{where} is destroyed but still holds key material")
        return SigningEntry(kid, str(alg), state, created, None, destroyed)
    private = _load_private(str(alg), raw, where)
    return SigningEntry(kid, str(alg), state, created, private, destroyed)


def settle_states(entries: Mapping[str, SigningEntry], primary: str) -> None:
    """Make the primary key the one active key: any other active key becomes decrypt-only.

    Only the primary key signs, so an active key that is not primary (an ``active``
    key of an older file, the other side's primary after a merge) can only verify.
    """
    for entry in entries.values():
        if entry.kid != primary and entry.state is KeyState.ACTIVE:
            entry.state = KeyState.DECRYPT_ONLY


def render_document(primary: str, entries: Iterable[SigningEntry]) -> bytes:
    """The keyset document, **with the private keys in clear**, oldest key first."""
    keys = [
        {
            "kid": e.kid,
            "alg": e.alg,
            "state": e.state.value,
            "created": format_time(e.created),
            "destroyed": None if e.destroyed is None else format_time(e.destroyed),
            "jwk": None if e.private is None else private_jwk(e.alg, e.private),
        }
        for e in sorted(entries, key=lambda e: e.created)
    ]
    doc = {"format": FORMAT, "primary": primary, "keys": keys}
    return json.dumps(doc, indent=2).encode() + b"\n"


def parse_document(data: bytes) -> tuple[list[SigningEntry], str]:
    """Read a keyset document: its keys (states as the file says them) and the primary kid.

    Raises:
        FormatError: the document is not a valid keyset (the message says what is
            wrong, never with key material).
        KeyFormatError: a private key that cannot be used.
        UnsupportedAlgorithmError: a key of an unknown algorithm.
    """
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FormatError("the keyset is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FormatError(f"not a signing keyset: 'format' must be {FORMAT!r}")
    keys = doc.get("keys")
    if not isinstance(keys, list) or not keys:
        raise FormatError("the keyset has no keys")
    entries = [_parse_entry(k, i) for i, k in enumerate(keys)]
    if len({e.kid for e in entries}) != len(entries):
        raise FormatError("the keyset holds two keys with the same kid")
    primary = doc.get("primary")
    if not isinstance(primary, str):
        raise FormatError("'primary' must be a key id")
    return entries, primary


# The last second of year 9999: the latest NumericDate a verifier accepts.
_MAX_NUMERIC_DATE: Final = 253_402_300_799


def _seconds(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be seconds since the epoch, a number")
    if not 0 <= value <= _MAX_NUMERIC_DATE:  # NaN and the infinities too
        raise ConfigError(f"{name} must be a time between 1970 and the end of year 9999")
    return int(value)


def issue_times(now: float, not_before: float | None, ttl: int) -> tuple[int, int, int]:
    """``iat``, ``nbf`` and ``exp`` of a token issued at ``now``, each a NumericDate
    that verifiers accept.

    Raises:
        TypeError: ``now`` or ``not_before`` is not a number.
        ConfigError: a time, or ``now + ttl``, outside 1970 to the end of year 9999.
    """
    issued = _seconds(now, "now")
    nbf = issued if not_before is None else _seconds(not_before, "not_before")
    if issued + ttl > _MAX_NUMERIC_DATE:
        raise ConfigError("ttl takes the token's expiry (exp) past the end of year 9999")
    return issued, nbf, issued + ttl


def claims_json(claims: Mapping[str, Any]) -> bytes:
    """A claims set as compact JSON, the payload of a token: exactly these claims.

    Raises:
        TypeError: ``claims`` is not a mapping with string names, or holds a value
            that is not JSON.
        ConfigError: a NaN or infinite number, or a circular reference, which a JSON
            text cannot carry (a verifier would refuse the token).
    """
    if not isinstance(claims, Mapping) or not all(isinstance(k, str) for k in claims):
        raise TypeError("claims must be a mapping of claim names (str) to JSON values")
    try:
        return json.dumps(claims, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:
        raise ConfigError(f"the claims are not JSON: {exc}") from None
