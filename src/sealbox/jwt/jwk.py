"""Verification keys and JWK Sets (RFC 7517) with a strict import policy.

A :class:`VerificationKey` is one public key (or HMAC secret) bound to its key id
and to the algorithms it may verify: RFC 8725 §3.1 wants each key used with
exactly one algorithm, so a token cannot choose how its signature is checked.
:class:`JWKSet` holds the keys of a JWK Set document and finds them by ``kid``.

Importing refuses, with a message that names the key (RFC 7517, RFC 7518 §3,
§6; RFC 8725 §3.5):

* private key material in a public JWK (``d``, ``p``, ``q``…);
* RSA moduli under 2048 bits, public exponents that are even or below 3, and
  moduli with the ROCA fingerprint (CVE-2017-15361);
* EC points not on their curve, curves that do not match ``alg``;
* HMAC keys shorter than the hash output (or empty), and symmetric keys in a
  public set unless asked for; sets that mix symmetric and asymmetric keys;
* duplicate key ids, an ``alg`` that does not fit the key type, key ids longer
  than a token's header may name (256 characters);
* JSON text that gives a member twice (which one counts, readers disagree).

Keys that are not for signatures (``use`` other than ``sig``, ``key_ops``
without ``verify``, a JWE ``alg``, X25519/X448, unknown ``kty``) are skipped, as
RFC 7517 §5 asks, so a set that also publishes encryption keys still loads.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from sealbox._util.json_objects import DuplicateMemberError, unique_members
from sealbox.exceptions import KeyFormatError, TokenError
from sealbox.jwt._jws import _MAX_KID, ALGORITHMS, AlgorithmSpec, b64url_decode, b64url_encode
from sealbox.jwt._roca import has_roca_fingerprint

__all__ = [
    "MAX_JWKS_KEYS",
    "MAX_JWKS_SIZE",
    "JWKSet",
    "KeySource",
    "PublicKey",
    "VerificationKey",
    "only_key_for",
]

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)

MAX_JWKS_SIZE: Final = 512 * 1024
"""Largest JWK Set document read, in bytes."""
MAX_JWKS_KEYS: Final = 100
"""Most keys a JWK Set may hold."""
MIN_RSA_BITS: Final = 2048
# OpenSSL verifies with moduli of at most 16384 bits, and above 3072 bits with public
# exponents of at most 64 bits: a key past either never verifies anything.
MAX_RSA_BITS: Final = 16384
_MAX_EXPONENT_BITS: Final = 64
_SMALL_MODULUS_BITS: Final = 3072

_PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth")
_CURVES: Final = {
    "P-256": (ec.SECP256R1(), 32, "ES256"),
    "P-384": (ec.SECP384R1(), 48, "ES384"),
    "P-521": (ec.SECP521R1(), 66, "ES512"),
}
_KEY_TYPES: Final = frozenset({"RSA", "EC", "OKP", "oct"})
_OKP_SIZES: Final = {"Ed25519": 32, "Ed448": 57}
_OKP_ENCRYPTION_CURVES: Final = frozenset({"X25519", "X448"})
# JWE "alg" and "enc" values (RFC 7518 §4.1, §5.1): a key marked with one is not a signing key.
_JWE_ALGS: Final = frozenset(
    {
        "RSA1_5", "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512",
        "A128KW", "A192KW", "A256KW", "dir", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW",
        "ECDH-ES+A256KW", "A128GCMKW", "A192GCMKW", "A256GCMKW", "PBES2-HS256+A128KW",
        "PBES2-HS384+A192KW", "PBES2-HS512+A256KW", "A128CBC-HS256", "A192CBC-HS384",
        "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM",
    }
)  # fmt: skip


class VerificationKey:
    """A public key (or an HMAC secret) that verifies signatures, bound to kid and algorithms.

    Build one with :meth:`from_jwk`, :meth:`from_public_key` or
    :meth:`from_hmac_secret`. The ``repr`` shows the key id, type and algorithms;
    an HMAC secret never leaves the object except through :meth:`to_jwk` with
    ``include_secret=True``.

    Attributes:
        kid: the key id tokens name in their header, or ``None``.
        kty: the JWK key type: ``RSA``, ``EC``, ``OKP`` or ``oct``.
        algorithms: the ``alg`` values this key verifies (one, except an Ed25519
            or Ed448 key with no ``alg``, which verifies ``EdDSA`` and its RFC 9864 name).
    """

    __slots__ = ("_key", "_specs", "algorithms", "kid", "kty")

    kid: str | None
    kty: str
    algorithms: frozenset[str]
    _specs: dict[str, AlgorithmSpec]
    _key: Any

    def __init__(self, kid: str | None, kty: str, algorithms: Iterable[str], key: Any) -> None:
        if kid is not None and not (isinstance(kid, str) and 0 < len(kid) <= _MAX_KID):
            # A token's header names a key id of at most this length: a longer one is a key
            # no token could ever reach.
            raise KeyFormatError(f"the 'kid' must be a string of 1 to {_MAX_KID} characters")
        specs = {}
        for alg in algorithms:
            spec = ALGORITHMS.get(alg)
            if spec is None or spec.kty != kty:
                raise KeyFormatError(f"alg {alg!r} does not fit a {kty} key")
            specs[alg] = spec
        if not specs:
            raise KeyFormatError("a verification key needs at least one algorithm")
        object.__setattr__(self, "kid", kid)
        object.__setattr__(self, "kty", kty)
        object.__setattr__(self, "algorithms", frozenset(specs))
        object.__setattr__(self, "_specs", specs)
        object.__setattr__(self, "_key", key)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("VerificationKey is immutable")

    def __repr__(self) -> str:
        algs = ", ".join(sorted(self.algorithms))
        return f"VerificationKey(kid={self.kid!r}, kty={self.kty!r}, algorithms=[{algs}])"

    def __reduce__(self) -> Any:
        raise TypeError("VerificationKey cannot be pickled; export it with to_jwk()")

    def spec(self, alg: str) -> AlgorithmSpec | None:
        """The algorithm ``alg`` if this key verifies it, else ``None``."""
        return self._specs.get(alg)

    @property
    def key(self) -> Any:
        """The cryptography public key object (``bytes`` for an HMAC key: a secret)."""
        return self._key

    @property
    def is_symmetric(self) -> bool:
        """Whether this is an HMAC (``oct``) key, which is a secret."""
        return self.kty == "oct"

    # -- constructors ---------------------------------------------------------------

    @classmethod
    def from_public_key(cls, key: PublicKey, *, alg: str, kid: str | None) -> VerificationKey:
        """Bind a cryptography public key to one algorithm and a key id.

        Raises:
            KeyFormatError: the key does not fit ``alg`` or is too weak.
        """
        jwk = _public_jwk(key)
        jwk["alg"] = alg
        if kid is not None:
            jwk["kid"] = kid
        parsed = cls.from_jwk(jwk)
        assert parsed is not None
        return parsed

    @classmethod
    def from_hmac_secret(
        cls, secret: bytes, *, alg: str = "HS256", kid: str | None
    ) -> VerificationKey:
        """Bind an HMAC secret to one HS algorithm and a key id.

        Raises:
            KeyFormatError: ``alg`` is not HS256/HS384/HS512, or the secret is
                shorter than the hash output (RFC 7518 §3.2).
        """
        spec = ALGORITHMS.get(alg)
        if spec is None or spec.kty != "oct":
            raise KeyFormatError(f"{alg!r} is not an HMAC algorithm")
        _check_hmac_length(bytes(secret), spec, "the HMAC secret")
        return cls(kid, "oct", (alg,), bytes(secret))

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, allow_hmac: bool = False) -> VerificationKey:
        """Import one JWK (RFC 7517 §4) as a verification key.

        Args:
            jwk: the JWK as a JSON object.
            allow_hmac: accept an ``oct`` (HMAC secret) key.

        Raises:
            KeyFormatError: the key is malformed, weak, private, not for
                signatures, or its ``alg`` does not fit it.
        """
        key = _parse_jwk(jwk, "the JWK", allow_hmac=allow_hmac)
        if key is None:
            raise KeyFormatError("the JWK is not a signature verification key")
        return key

    def to_jwk(self, *, include_secret: bool = False) -> dict[str, Any]:
        """Return the public JWK, with ``kid``, ``alg`` and ``use``.

        An HMAC key has no public form: it is exported only with
        ``include_secret=True``.

        Raises:
            ValueError: an HMAC key without ``include_secret``.
        """
        if self.kty == "oct":
            if not include_secret:
                raise ValueError("an HMAC key is a secret and has no public JWK")
            jwk: dict[str, Any] = {"kty": "oct", "k": b64url_encode(self._key)}
        else:
            jwk = _public_jwk(self._key)
        if self.kid is not None:
            jwk["kid"] = self.kid
        if len(self.algorithms) == 1:
            jwk["alg"] = next(iter(self.algorithms))
        jwk["use"] = "sig"
        return jwk


@runtime_checkable
class KeySource(Protocol):
    """Anything that finds verification keys by key id (a :class:`JWKSet`, a remote
    JWK Set, a signing keyset)."""

    def find(self, kid: str | None, *, alg: str | None = None) -> VerificationKey:
        """Return the key with this id.

        ``kid`` is ``None`` for a token without one; a source then returns its
        only key that verifies ``alg`` (the token's algorithm), if exactly one does.

        Raises:
            TokenError: no such key.

        .. versionchanged:: 0.1.0
           ``alg``.
        """
        ...


class JWKSet:
    """Verification keys by key id, from a JWK Set document (RFC 7517 §5).

    Args:
        keys: the keys. Their ids must be unique, and they may not mix HMAC
            and public keys.

    Raises:
        KeyFormatError: duplicate key ids, or symmetric and asymmetric keys mixed.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_by_kid", "_keys")

    def __init__(self, keys: Iterable[VerificationKey] = ()) -> None:
        keys = list(keys)
        by_kid: dict[str | None, VerificationKey] = {}
        for key in keys:
            if key.kid is None:  # optional (RFC 7517 §4.5): found by alg (only_key_for)
                continue
            if key.kid in by_kid:
                raise KeyFormatError(f"two keys have the key id {_quote_kid(key.kid)}")
            by_kid[key.kid] = key
        if len({k.is_symmetric for k in keys}) > 1:
            raise KeyFormatError(
                "the key set mixes symmetric (HMAC) and asymmetric keys",
                hint="a token's kid must not be able to pick either kind: use two sets",
            )
        self._keys = tuple(keys)
        self._by_kid = by_kid

    def __repr__(self) -> str:
        return f"JWKSet(kids={[k.kid for k in self._keys]!r})"

    def __iter__(self) -> Iterator[VerificationKey]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    def __reduce__(self) -> Any:
        raise TypeError("JWKSet cannot be pickled; export it with to_dict()")

    def find(self, kid: str | None, *, alg: str | None = None) -> VerificationKey:
        """Return the key with this id (see :class:`KeySource`).

        Raises:
            TokenError: no key has this id; or ``kid`` is ``None`` and not exactly
                one key of the set verifies ``alg``.
        """
        if kid is None:
            return only_key_for(self._keys, alg, "the key set")
        key = self._by_kid.get(kid)
        if key is not None:
            return key
        raise TokenError(f"no key with id {_quote_kid(kid)} in the key set")

    @classmethod
    def from_dict(cls, document: object, *, allow_hmac: bool = False) -> JWKSet:
        """Import a JWK Set document (``{"keys": [...]}``).

        Args:
            document: the parsed JSON.
            allow_hmac: accept ``oct`` keys (a private set of HMAC secrets).

        Raises:
            KeyFormatError: the document or one of its signature keys is invalid
                (the message names the key by index and kid).
        """
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise KeyFormatError("a JWK Set is a JSON object with a 'keys' array")
        entries = document["keys"]
        if len(entries) > MAX_JWKS_KEYS:
            raise KeyFormatError(f"the JWK Set holds more than {MAX_JWKS_KEYS} keys")
        keys = []
        for index, entry in enumerate(entries):
            key = _parse_jwk(entry, f"keys[{index}]", allow_hmac=allow_hmac)
            if key is not None:
                keys.append(key)
        return cls(keys)

    @classmethod
    def from_json(cls, data: str | bytes, *, allow_hmac: bool = False) -> JWKSet:
        """Import a JWK Set from its JSON text (at most :data:`MAX_JWKS_SIZE` bytes).

        Raises:
            KeyFormatError: not JSON, too large, or invalid (see :meth:`from_dict`); a
                member given twice (code ``duplicate_member``, fact ``member``).

        .. versionchanged:: 0.1.0
           A member given twice is refused, not read by its last value.
        """
        if not isinstance(data, str | bytes | bytearray):
            raise TypeError("data must be the JWK Set's JSON text, as str or bytes")
        if len(data) > MAX_JWKS_SIZE:
            raise KeyFormatError(f"the JWK Set is larger than {MAX_JWKS_SIZE} bytes")
        try:
            # Parsers differ on which of two same-named members counts ("keys", a key's
            # "kid"): the set sealbox reads must be the one every reader reads.
            document = json.loads(data, object_pairs_hook=unique_members)
        except DuplicateMemberError as exc:
            raise KeyFormatError(
                f"the JWK Set has a duplicate member {_quote_kid(exc.name, 40)}",
                code="duplicate_member",
                facts={"member": exc.name[:40]},
            ) from None
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise KeyFormatError("the JWK Set is not valid JSON") from None
        return cls.from_dict(document, allow_hmac=allow_hmac)

    def to_dict(self) -> dict[str, Any]:
        """Return the public JWK Set document. HMAC keys are never included."""
        return {"keys": [k.to_jwk() for k in self._keys if not k.is_symmetric]}


# -- JWK parsing -------------------------------------------------------------------------


def only_key_for(keys: Iterable[VerificationKey], alg: str | None, where: str) -> VerificationKey:
    """The one key of ``keys`` that verifies ``alg`` (any algorithm when ``None``): the
    key of a token without a key id.

    Raises:
        TokenError: no key, or several, fit: a token without ``kid`` cannot choose.
            Several: code ``kid_needed``, facts ``keys`` (how many fit) and ``alg``.
    """
    keys = list(keys)
    fitting = keys if alg is None else [k for k in keys if alg in k.algorithms]
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        held = f"{where} holds {len(keys)} key{'' if len(keys) == 1 else 's'}"
        reason = held if alg is None else f"no key of {where} verifies {alg} ({held})"
        raise TokenError(f"the token has no key id (kid) and {reason}")
    for_alg = "" if alg is None else f" for {alg}"
    raise TokenError(
        f"the token has no key id (kid), and {where} holds {len(fitting)} keys{for_alg}: "
        "it does not say which one to check it with",
        code="kid_needed",
        hint=f"the token's issuer must name its key (kid); or verify it with a key set "
        f"holding only one key{for_alg}",
        facts={"keys": str(len(fitting)), **({} if alg is None else {"alg": alg})},
    )


def _quote_kid(kid: str | None, limit: int = 60) -> str:
    text = repr(kid)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _parse_jwk(  # noqa: PLR0912 - one branch per RFC 7517 member rule
    obj: object, where: str, *, allow_hmac: bool
) -> VerificationKey | None:
    """Return the key, ``None`` for a key that is not for signatures, or raise."""
    if not isinstance(obj, dict):
        raise KeyFormatError(f"{where} is not a JSON object")
    kid = obj.get("kid")
    if kid is not None:
        if not isinstance(kid, str) or not kid:
            raise KeyFormatError(f"{where}: 'kid' must be a non-empty string")
        where = f"{where} (kid {_quote_kid(kid)})"
        if len(kid) > _MAX_KID:  # no token's header can name it (see VerificationKey)
            raise KeyFormatError(f"{where}: 'kid' must be a string of 1 to {_MAX_KID} characters")
    kty = obj.get("kty")
    if not isinstance(kty, str):
        raise KeyFormatError(f"{where}: 'kty' is missing")
    # A leaked private key is refused whatever its use: the set is not what it claims.
    _refuse_private(obj, where)
    use = obj.get("use")
    if use is not None and not isinstance(use, str):
        raise KeyFormatError(f"{where}: 'use' must be a string")
    key_ops = obj.get("key_ops")
    if key_ops is not None and (
        not isinstance(key_ops, list) or not all(isinstance(op, str) for op in key_ops)
    ):
        raise KeyFormatError(f"{where}: 'key_ops' must be an array of strings")
    alg = obj.get("alg")
    if alg is not None and not isinstance(alg, str):
        raise KeyFormatError(f"{where}: 'alg' must be a string")
    # Not a signature key: skipped (RFC 7517 §5), so a token naming it finds no key.
    if (use is not None and use != "sig") or (key_ops is not None and "verify" not in key_ops):
        return None
    if alg in _JWE_ALGS or kty not in _KEY_TYPES:  # unknown kty ("AKP"), its alg with it
        return None
    if alg is not None and alg not in ALGORITHMS:
        raise KeyFormatError(f"{where}: unknown or unsupported alg {_quote_kid(alg)}")
    if alg is not None and ALGORITHMS[alg].kty != kty:
        raise KeyFormatError(f"{where}: alg {alg} needs a {ALGORITHMS[alg].kty} key, not {kty}")
    if kty == "RSA":
        return _parse_rsa(obj, where, kid, alg)
    if kty == "EC":
        return _parse_ec(obj, where, kid, alg)
    if kty == "OKP":
        return _parse_okp(obj, where, kid, alg)
    return _parse_oct(obj, where, kid, alg, allow_hmac=allow_hmac)


def _refuse_private(obj: dict[str, Any], where: str) -> None:
    present = [m for m in _PRIVATE_MEMBERS if m in obj]
    if present:
        raise KeyFormatError(
            f"{where} holds private key material ({', '.join(present)})",
            hint="publish and load only public keys",
        )


def _member(obj: dict[str, Any], name: str, where: str) -> bytes:
    value = obj.get(name)
    if not isinstance(value, str):
        raise KeyFormatError(f"{where}: '{name}' is missing or not a string")
    try:
        return b64url_decode(value, f"'{name}' member", canonical=False)
    except TokenError as exc:
        raise KeyFormatError(f"{where}: {exc}") from None


def _parse_rsa(
    obj: dict[str, Any], where: str, kid: str | None, alg: str | None
) -> VerificationKey:
    n = int.from_bytes(_member(obj, "n", where), "big")
    e = int.from_bytes(_member(obj, "e", where), "big")
    if n.bit_length() < MIN_RSA_BITS:
        raise KeyFormatError(
            f"{where}: the RSA modulus is {n.bit_length()} bits; at least {MIN_RSA_BITS} "
            "are required (RFC 7518 §3.3)"
        )
    if n.bit_length() > MAX_RSA_BITS:
        raise KeyFormatError(
            f"{where}: the RSA modulus is {n.bit_length()} bits; at most {MAX_RSA_BITS} verify"
        )
    if e < 3 or e % 2 == 0:
        raise KeyFormatError(f"{where}: the RSA public exponent must be odd and at least 3")
    if e.bit_length() > _MAX_EXPONENT_BITS and n.bit_length() > _SMALL_MODULUS_BITS:
        raise KeyFormatError(
            f"{where}: the RSA public exponent is {e.bit_length()} bits; with a modulus over "
            f"{_SMALL_MODULUS_BITS} bits, at most {_MAX_EXPONENT_BITS} verify (65537 is usual)"
        )
    if has_roca_fingerprint(n):
        raise KeyFormatError(
            f"{where}: the RSA modulus has the ROCA fingerprint (CVE-2017-15361)",
            hint="the key was made by a flawed generator: replace it",
        )
    try:
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise KeyFormatError(f"{where}: not a valid RSA public key") from None
    # Without "alg" an RSA key verifies RS256 only: the PS algorithms must be named.
    return VerificationKey(kid, "RSA", (alg or "RS256",), key)


def _parse_ec(obj: dict[str, Any], where: str, kid: str | None, alg: str | None) -> VerificationKey:
    crv = obj.get("crv")
    if not isinstance(crv, str):
        raise KeyFormatError(f"{where}: 'crv' is missing or not a string")
    if crv not in _CURVES:
        raise KeyFormatError(
            f"{where}: unsupported EC curve {_quote_kid(crv)} (P-256, P-384, P-521)"
        )
    curve, size, curve_alg = _CURVES[crv]
    if alg is not None and alg != curve_alg:
        raise KeyFormatError(f"{where}: alg {alg} does not fit curve {crv} (it needs {curve_alg})")
    x, y = _member(obj, "x", where), _member(obj, "y", where)
    if len(x) != size or len(y) != size:
        raise KeyFormatError(f"{where}: {crv} coordinates must be {size} bytes each")
    try:
        key = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
        ).public_key()
    except ValueError:
        raise KeyFormatError(f"{where}: the point is not on curve {crv}") from None
    return VerificationKey(kid, "EC", (curve_alg,), key)


def _parse_okp(
    obj: dict[str, Any], where: str, kid: str | None, alg: str | None
) -> VerificationKey | None:
    crv = obj.get("crv")
    if not isinstance(crv, str):
        raise KeyFormatError(f"{where}: 'crv' is missing or not a string")
    if crv in _OKP_ENCRYPTION_CURVES:
        if alg is not None or obj.get("use") == "sig":
            raise KeyFormatError(f"{where}: an {crv} key is for key agreement, not signatures")
        return None
    if crv not in _OKP_SIZES:
        raise KeyFormatError(f"{where}: unsupported OKP curve {_quote_kid(crv)} (Ed25519, Ed448)")
    if alg is not None and crv not in ALGORITHMS[alg].curves:
        raise KeyFormatError(f"{where}: alg {alg} does not fit curve {crv}")
    x = _member(obj, "x", where)
    if len(x) != _OKP_SIZES[crv]:
        raise KeyFormatError(f"{where}: an {crv} public key is {_OKP_SIZES[crv]} bytes")
    try:
        key = (
            ed25519.Ed25519PublicKey.from_public_bytes(x)
            if crv == "Ed25519"
            else ed448.Ed448PublicKey.from_public_bytes(x)
        )
    except ValueError:
        raise KeyFormatError(f"{where}: not a valid {crv} public key") from None
    return VerificationKey(kid, "OKP", (alg,) if alg else ("EdDSA", crv), key)


def _parse_oct(
    obj: dict[str, Any], where: str, kid: str | None, alg: str | None, *, allow_hmac: bool
) -> VerificationKey:
    if not allow_hmac:
        raise KeyFormatError(
            f"{where} is a symmetric (oct) key, a secret that has no place in a public key set",
            hint="load HMAC keys with allow_hmac=True, from a private source",
        )
    spec = ALGORITHMS[alg or "HS256"]
    secret = _member(obj, "k", where)
    _check_hmac_length(secret, spec, where)
    return VerificationKey(kid, "oct", (spec.name,), secret)


def _check_hmac_length(secret: bytes, spec: AlgorithmSpec, where: str) -> None:
    if len(secret) < spec.min_key_bytes:
        raise KeyFormatError(
            f"{where}: the HMAC key is {len(secret)} bytes; {spec.name} needs at least "
            f"{spec.min_key_bytes} (RFC 7518 §3.2)",
            hint="generate a random key of 32 bytes or more; never use a password",
        )


def _public_jwk(key: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {
            "kty": "RSA",
            "n": b64url_encode(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url_encode(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }
    if isinstance(key, ec.EllipticCurvePublicKey):
        for crv, (curve, size, _) in _CURVES.items():
            if key.curve.name == curve.name:
                point = key.public_numbers()
                return {
                    "kty": "EC",
                    "crv": crv,
                    "x": b64url_encode(point.x.to_bytes(size, "big")),
                    "y": b64url_encode(point.y.to_bytes(size, "big")),
                }
        raise KeyFormatError(f"unsupported EC curve {key.curve.name}")
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        crv = "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": crv, "x": b64url_encode(raw)}
    raise KeyFormatError(f"unsupported public key type {type(key).__name__}")
