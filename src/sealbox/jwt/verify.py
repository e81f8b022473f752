"""Token verification: signature with a pinned algorithm, then the claims (RFC 7519 §7.2, RFC 8725).

:class:`TokenVerifier` holds a verification policy and applies it to each token:

1. size, shape and header, strictly (:func:`sealbox.jwt._jws.parse_compact`);
2. the token type (``typ``, RFC 8725 §3.11; ``at+jwt`` for access tokens, RFC 9068 §4);
3. the algorithm: in the caller's allow-list *and* bound to the key the ``kid``
   names (RFC 8725 §3.1): a token cannot pick an algorithm its key was not made for;
4. the signature, with the key found by ``kid`` in the verifier's key source;
5. the claims: a JSON object without duplicate names; required claims present;
   ``exp``, ``nbf``, ``iat`` as NumericDates against an injectable clock with a
   bounded leeway; ``iss`` and ``aud`` against the accepted values.

Every refusal raises :class:`~sealbox.exceptions.TokenError` (or
:class:`~sealbox.exceptions.TokenExpiredError` /
:class:`~sealbox.exceptions.TokenNotYetValidError`), with a message that says why
but never quotes the token. A bad signature says only that it does not verify.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from sealbox.exceptions import ConfigError, TokenError, TokenExpiredError, TokenNotYetValidError
from sealbox.jwt._jws import (
    ALGORITHMS,
    DEFAULT_MAX_TOKEN_SIZE,
    CompactJWS,
    parse_compact,
    strict_json,
)
from sealbox.jwt.defaults import MAX_LEEWAY
from sealbox.jwt.jwk import KeySource, VerificationKey

__all__ = [
    "DEFAULT_REQUIRED_CLAIMS",
    "MAX_LEEWAY",
    "TokenVerifier",
    "UnverifiedToken",
    "VerifiedJWS",
    "decode_unverified",
    "verify_jws",
]

DEFAULT_REQUIRED_CLAIMS: Final = ("exp", "iat", "sub")
"""Claims a token must carry unless the verifier is told otherwise."""
"""The most clock-skew allowance accepted, in seconds (RFC 8725 §3.8 wants it small)."""
_MAX_NUMERIC_DATE: Final = 253_402_300_799  # 9999-12-31T23:59:59Z
_NESTED_CTY: Final = frozenset({"jwt", "application/jwt"})


@dataclass(frozen=True, slots=True)
class VerifiedJWS:
    """A JWS whose signature verified.

    Attributes:
        header: the protected header.
        payload: the payload bytes.
        key: the key that verified it.
    """

    header: dict[str, Any]
    payload: bytes
    key: VerificationKey


@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    """A token's header and claims as written, **not verified**: for display only.

    Attributes:
        header: the protected header.
        claims: the claims set.
    """

    header: dict[str, Any]
    claims: dict[str, Any]


def _select(
    jws: CompactJWS, keys: KeySource, algorithms: frozenset[str] | None, *, require_kid: bool
) -> VerificationKey:
    if algorithms is not None and jws.alg not in algorithms:
        raise TokenError(
            f"alg {jws.alg} is not among the accepted algorithms",
            code="alg_not_accepted",
            facts={"alg": jws.alg, "accepted": ", ".join(sorted(algorithms))},
        )
    if jws.kid is None and require_kid:
        raise TokenError("the token has no key id (kid)")
    # Without a kid, the key is the source's one key for the token's algorithm.
    key = keys.find(jws.kid) if jws.kid is not None else keys.find(None, alg=jws.alg)
    spec = key.spec(jws.alg)
    if spec is None:
        # A kid may run to 256 characters: the message shows its start.
        kid = jws.kid if jws.kid is None or len(jws.kid) <= 40 else jws.kid[:40] + "…"
        accepted = ", ".join(sorted(key.algorithms))
        raise TokenError(
            f"the key {kid!r} verifies {accepted}, not {jws.alg}",
            code="alg_not_for_key",
            facts={"alg": jws.alg, "accepted": accepted} | ({} if kid is None else {"kid": kid}),
        )
    if not spec.impl.verify(jws.signing_input, key.key, jws.signature):
        raise TokenError("the token's signature does not verify", code="signature_invalid")
    return key


def verify_jws(
    token: str | bytes,
    keys: KeySource,
    *,
    algorithms: Iterable[str] | None = None,
    require_kid: bool = True,
    max_size: int = DEFAULT_MAX_TOKEN_SIZE,
) -> VerifiedJWS:
    """Verify a compact JWS (RFC 7515) and return its payload, without reading it as claims.

    Use :class:`TokenVerifier` for JWTs; this is the signature layer alone.

    Raises:
        TokenError: malformed, an algorithm not accepted or not bound to the key,
            an unknown key id, or a signature that does not verify.
    """
    jws = parse_compact(token, max_size=max_size)
    allowed = None if algorithms is None else _algorithms(algorithms)
    key = _select(jws, keys, allowed, require_kid=require_kid)
    return VerifiedJWS(jws.header, jws.payload, key)


def decode_unverified(
    token: str | bytes, *, max_size: int = DEFAULT_MAX_TOKEN_SIZE
) -> UnverifiedToken:
    """Parse a token's header and claims **without checking the signature**.

    For display and debugging only: nothing in the result can be trusted.

    Raises:
        TokenError: the token is malformed or its claims are not a JSON object.
    """
    jws = parse_compact(token, max_size=max_size)
    return UnverifiedToken(jws.header, _claims(jws.payload))


def _claims(payload: bytes) -> dict[str, Any]:
    claims = strict_json(payload, "claims set")
    if not isinstance(claims, dict):
        raise TokenError("the claims set is not a JSON object")
    return claims


def _algorithms(algorithms: Iterable[str]) -> frozenset[str]:
    if isinstance(algorithms, str):
        algorithms = (algorithms,)
    chosen = frozenset(algorithms)
    unknown = sorted(a for a in chosen if a not in ALGORITHMS)
    if unknown:
        raise ConfigError(f"unknown algorithm(s) {', '.join(unknown)}")
    if not chosen:
        raise ConfigError("algorithms must name at least one algorithm")
    return chosen


def _claim_names(required_claims: Iterable[str]) -> tuple[str, ...]:
    """The claims a verifier requires, as given: one name, or names."""
    if isinstance(required_claims, str):
        return (required_claims,)  # one claim, not its letters
    if not isinstance(required_claims, Iterable):
        raise TypeError("required_claims must be claim names, e.g. ('exp', 'sub')")
    required = tuple(required_claims)
    if not all(isinstance(c, str) for c in required):
        raise ConfigError("required_claims must be claim names")
    return required


def _strings(value: str | Iterable[str] | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    values = frozenset((value,) if isinstance(value, str) else value)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ConfigError(f"{what} must be a non-empty string or strings")
    return values


def _media_type(value: str) -> str:
    # RFC 7515 §4.1.9: compare case-insensitively; "application/" may be left out.
    value = value.lower()
    return value.removeprefix("application/")


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    # An int is compared as an int: a 4000-digit one must not reach float().
    if isinstance(value, bool) or not isinstance(value, int | float):
        valid = False
    elif isinstance(value, float):
        valid = math.isfinite(value) and 0 <= value <= _MAX_NUMERIC_DATE
    else:
        valid = 0 <= value <= _MAX_NUMERIC_DATE
    if not valid:
        raise TokenError(f"the {name!r} claim is not a NumericDate (seconds since the epoch)")
    return value


def _shown(values: list[str]) -> str:
    """Claim values for an error's facts: the first few, each cut short (a claim may be long)."""
    shown = [v if len(v) <= 60 else v[:60] + "…" for v in values[:3]]
    return ", ".join(shown) + (", …" if len(values) > 3 else "")


def _when(claim: str, moment: float, now: float) -> dict[str, str]:
    """The facts of a time claim that refused a token: which, when (UTC), and how far from now."""
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(moment)))
    return {"claim": claim, "time": at, "seconds": str(int(abs(now - moment)))}


def _seconds(value: float) -> str:
    """Seconds for a fact: ``30``, not ``30.0``; ``1.5`` as it is."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _moment(now: float) -> float:
    # NaN compares false with everything: it would let an expired token through.
    try:
        finite = math.isfinite(now)
    except TypeError:
        raise TypeError("now (and the clock) must be seconds since the epoch, a number") from None
    if not finite:
        raise ConfigError("the time to check tokens against (now= or the clock) is not finite")
    return now


class TokenVerifier:
    """Verify JWTs against a key source and a policy.

    Args:
        keys: where keys are found by ``kid``: a :class:`~sealbox.jwt.JWKSet`, a
            :class:`~sealbox.jwt.RemoteJWKSet` or a :class:`~sealbox.jwt.SigningKeySet`.
        audience: the accepted ``aud`` value(s). When set, a token must name one;
            when not, a token that names any audience is refused (RFC 7519 §4.1.3).
        issuer: the accepted ``iss`` value(s). When set, ``iss`` is required.
        token_type: the required ``typ`` header (``at+jwt`` by default, RFC 9068
            §4). ``None`` accepts any type: only where no other kind of JWT is
            signed by the same keys (RFC 8725 §3.11).
        algorithms: the accepted algorithms; by default those of each key. A
            token's ``alg`` must be both accepted and bound to its key.
        required_claims: claims that must be present (``exp``, ``iat``, ``sub`` by default).
        leeway: seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``
            (at most :data:`MAX_LEEWAY`).
        max_age: refuse tokens issued (``iat``) longer ago than this, in seconds.
        max_token_size: refuse longer tokens before decoding anything.
        require_kid: refuse tokens without ``kid``. With ``False``, a token
            without one is checked against the key source's only key that verifies
            the token's ``alg``, if exactly one does (for tokens from issuers that
            never set ``kid``).
        clock: returns the current time in seconds since the epoch.

    Raises:
        ConfigError: a parameter out of range.
        TypeError: a parameter of the wrong type (a ``max_token_size`` that is not an
            ``int``, a ``token_type`` that is not a string).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0
       Without ``kid``, the one key that verifies the token's ``alg``, not the only key.
    """

    __slots__ = (
        "_algorithms",
        "_audiences",
        "_clock",
        "_issuers",
        "_keys",
        "_leeway",
        "_max_age",
        "_max_size",
        "_require_kid",
        "_required",
        "_token_type",
    )

    def __init__(
        self,
        keys: KeySource,
        *,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        token_type: str | None = "at+jwt",  # noqa: S107 - a media type, not a secret
        algorithms: Iterable[str] | None = None,
        required_claims: Iterable[str] = DEFAULT_REQUIRED_CLAIMS,
        leeway: float = 0,
        max_age: float | None = None,
        max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
        require_kid: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(keys, KeySource):
            raise TypeError("keys must have a find(kid) method (JWKSet, RemoteJWKSet…)")
        for name, value in (("leeway", leeway), ("max_age", max_age)):
            if isinstance(value, bool) or not isinstance(value, int | float | None):
                raise TypeError(f"{name} must be a number of seconds")
        if not 0 <= leeway <= MAX_LEEWAY:
            raise ConfigError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")
        if max_age is not None and not max_age > 0:  # NaN too: it would disable the check
            raise ConfigError("max_age must be positive")
        # NaN would pass "< 64", and then every size would pass "len(token) > NaN".
        if isinstance(max_token_size, bool) or not isinstance(max_token_size, int):
            raise TypeError("max_token_size must be a whole number of characters")
        if max_token_size < 64:
            raise ConfigError("max_token_size must be at least 64")
        if token_type is not None and not isinstance(token_type, str):
            raise TypeError("token_type must be a media type such as 'at+jwt', or None")
        if token_type is not None and not token_type:
            raise ConfigError("token_type must be a media type such as 'at+jwt', or None")
        required = _claim_names(required_claims)
        self._keys = keys
        self._audiences = _strings(audience, "audience")
        self._issuers = _strings(issuer, "issuer")
        if self._audiences is not None:
            required += ("aud",)
        if self._issuers is not None:
            required += ("iss",)
        self._required = tuple(dict.fromkeys(required))
        self._token_type = None if token_type is None else _media_type(token_type)
        self._algorithms = None if algorithms is None else _algorithms(algorithms)
        self._leeway = leeway
        self._max_age = max_age
        self._max_size = max_token_size
        self._require_kid = require_kid
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"TokenVerifier(audience={sorted(self._audiences or ())}, "
            f"issuer={sorted(self._issuers or ())}, token_type={self._token_type!r})"
        )

    def verify(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """Verify a token and return its claims.

        Args:
            token: the compact JWT.
            now: the time to check against, instead of the clock.

        Raises:
            TokenExpiredError: ``exp`` has passed (or ``max_age``).
            TokenNotYetValidError: ``nbf`` or ``iat`` is in the future.
            TokenError: any other reason (see the module documentation).
        """
        jws = parse_compact(token, max_size=self._max_size)
        header = jws.header
        if self._token_type is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or _media_type(typ) != self._token_type:
                if isinstance(typ, str):
                    raise TokenError(
                        f"the token's type (typ) is {typ[:60]!r}, expected {self._token_type!r}",
                        code="token_type_mismatch",
                        facts={"typ": typ[:60], "expected": self._token_type},
                    )
                raise TokenError(
                    f"the token has no type (typ); expected {self._token_type!r}",
                    code="token_type_missing",
                    facts={"expected": self._token_type},
                )
        cty = header.get("cty")
        if cty is not None and (not isinstance(cty, str) or cty.lower() in _NESTED_CTY):
            raise TokenError("nested tokens (cty) are not accepted")
        _select(jws, self._keys, self._algorithms, require_kid=self._require_kid)
        claims = _claims(jws.payload)
        self._check_claims(claims, _moment(self._clock() if now is None else now))
        return claims

    def _check_claims(self, claims: dict[str, Any], now: float) -> None:  # noqa: PLR0912 - one check per claim
        for name in self._required:
            if name not in claims:
                raise TokenError(
                    f"the token has no {name!r} claim", code="claim_missing", facts={"claim": name}
                )
        leeway = self._leeway
        exp = _numeric_date(claims, "exp")
        if exp is not None and now >= exp + leeway:
            raise TokenExpiredError("the token has expired", facts=_when("exp", exp, now))
        nbf = _numeric_date(claims, "nbf")
        if nbf is not None and now + leeway < nbf:
            raise TokenNotYetValidError(
                "the token is not valid yet (nbf)", facts=_when("nbf", nbf, now)
            )
        iat = _numeric_date(claims, "iat")
        if iat is not None:
            if iat > now + leeway:
                raise TokenNotYetValidError(
                    "the token's issue time (iat) is in the future", facts=_when("iat", iat, now)
                )
            if self._max_age is not None and now - iat > self._max_age + leeway:
                # The facts an expired exp has, of the moment it got too old.
                facts = _when("iat", iat + self._max_age, now)
                raise TokenExpiredError(
                    "the token is older than the accepted maximum age",
                    facts=facts | {"max_age": _seconds(self._max_age)},
                )
        for name in ("sub", "jti", "scope"):
            if name in claims and not isinstance(claims[name], str):
                raise TokenError(f"the {name!r} claim must be a string")
        if claims.get("sub") == "" and "sub" in self._required:
            # A required subject that names no one is as good as none.
            raise TokenError("the token's 'sub' claim is empty")
        if "iss" in claims:
            iss = claims["iss"]
            if not isinstance(iss, str):
                raise TokenError("the 'iss' claim must be a string")
            if self._issuers is not None and iss not in self._issuers:
                raise TokenError(
                    "the token's issuer (iss) is not accepted",
                    code="issuer_not_accepted",
                    facts={"issuer": _shown([iss])},
                )
        if "aud" in claims:
            aud = claims["aud"]
            names = [aud] if isinstance(aud, str) else aud
            if not isinstance(names, list) or not all(isinstance(a, str) for a in names):
                raise TokenError("the 'aud' claim must be a string or an array of strings")
            if not names:
                # Neither "another audience" nor "an audience where none is expected".
                raise TokenError("the token's 'aud' claim is an empty list: it names no audience")
            if self._audiences is None:
                raise TokenError(
                    "the token names an audience (aud) and this verifier expects none",
                    hint="configure the verifier with audience=",
                    code="audience_unexpected",
                    facts={"audience": _shown(names)},
                )
            if self._audiences.isdisjoint(names):
                raise TokenError(
                    "the token is not meant for this audience (aud)",
                    code="audience_not_accepted",
                    facts={"audience": _shown(names)},
                )
