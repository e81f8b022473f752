"""Token sources for :class:`~sealbox.integrations.fastapi.BearerAuth` besides an app's own
:class:`~sealbox.accounts.Accounts`: another issuer's keys, held locally or fetched.

Both require the issuer and the audience, and an access token's ``typ`` (``at+jwt``,
RFC 9068) unless told otherwise; both check a signature once per token and keep the
claims until ``exp`` (:class:`RemoteJWKS`: while the key that verified it is in the set
fetched last). Neither knows about revocation: a token of another issuer is good until it
expires, or its key leaves the issuer's set. Both refuse a token bound to a client
certificate (RFC 8705 §3) presented without that certificate.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from sealbox.accounts.binding import check_binding_thumbprint
from sealbox.accounts.core import AccessClaims, VerifiedTokenCache
from sealbox.exceptions import PinMismatchError, SealboxError, TokenError
from sealbox.jwt import (
    AsyncRemoteJWKSet,
    JWKSet,
    KeySource,
    SigningKeySet,
    TokenVerifier,
    VerificationKey,
    decode_unverified,
)

__all__ = ["LocalJWKS", "RemoteJWKS", "claims_of"]

_NOT_VALID: Final = "the access token is not valid"


def _check_binding(claims: dict[str, Any], thumbprint: str | None) -> None:
    if "cnf" in claims:
        try:
            check_binding_thumbprint(claims, thumbprint)
        except TokenError as exc:
            raise TokenError(
                "the access token is bound to another client certificate"
                if thumbprint
                else "the access token is bound to a client certificate, and none was presented",
                code="token_binding_mismatch",
            ) from exc


def claims_of(claims: dict[str, Any]) -> AccessClaims:
    """The typed view of verified claims."""
    scope = claims.get("scope", "")
    jti = claims.get("jti")
    return AccessClaims(
        username=str(claims.get("sub", "")),
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        jti=jti if isinstance(jti, str) else "",
        expires=float(claims["exp"]),
        claims=claims,
    )


def _verifier(
    keys: KeySource,
    issuer: str | Iterable[str],
    audience: str | Iterable[str],
    token_type: str | None,
    leeway: float,
    *,
    require_kid: bool,
) -> TokenVerifier:
    return TokenVerifier(
        keys,
        issuer=issuer,
        audience=audience,
        token_type=token_type,
        required_claims=("exp", "iat", "sub"),
        leeway=leeway,
        require_kid=require_kid,
    )


class LocalJWKS:
    """Access tokens verified with keys at hand: a signing keyset, a JWK Set, or a JWKS file.

    Args:
        keys: a :class:`~sealbox.jwt.SigningKeySet` (its public keys), a
            :class:`~sealbox.jwt.JWKSet`, or the path of a JWKS file.
        issuer: the accepted ``iss`` (required).
        audience: the accepted ``aud`` (required).
        token_type: the required ``typ`` header (``None``: any).
        leeway: seconds of clock skew allowed.
        require_kid: refuse tokens without ``kid`` (the default). With ``False``, such a
            token is checked with the set's one key for its ``alg`` (for issuers that
            never set ``kid``); when several keys fit, it is refused.

    Raises:
        KeyFormatError: the JWKS file is not a JWK Set.
    """

    def __init__(
        self,
        keys: SigningKeySet | JWKSet | str | os.PathLike[str],
        *,
        issuer: str | Iterable[str],
        audience: str | Iterable[str],
        token_type: str | None = "at+jwt",  # noqa: S107 - a media type
        leeway: float = 5,
        require_kid: bool = True,
    ) -> None:
        source: KeySource
        if isinstance(keys, SigningKeySet):
            source = JWKSet.from_dict(keys.public_jwks())
        elif isinstance(keys, JWKSet):
            source = keys
        else:
            source = JWKSet.from_json(Path(keys).read_bytes())
        self._verifier = _verifier(
            source, issuer, audience, token_type, leeway, require_kid=require_kid
        )
        self._cache = VerifiedTokenCache()

    def __repr__(self) -> str:
        return f"LocalJWKS({self._verifier!r})"

    async def authenticate(self, token: str, *, thumbprint: str | None = None) -> AccessClaims:
        """The verified claims of ``token``.

        Raises:
            TokenError: not valid (the message says nothing more).
        """
        now = time.time()
        claims = self._cache.get(token, now)
        if claims is None:
            try:
                claims = self._verifier.verify(token, now=now)
            except SealboxError:
                raise TokenError(_NOT_VALID) from None
            self._cache.put(token, claims)
        _check_binding(claims, thumbprint)
        return claims_of(claims)


class RemoteJWKS:
    """Access tokens verified with an issuer's JWK Set URL, fetched asynchronously.

    The set is cached (``Cache-Control`` or ``cache_ttl``) and fetched again for an
    unknown key id at most every ``min_refresh_interval`` seconds (see
    :class:`~sealbox.jwt.AsyncRemoteJWKSet`); the issuer's TLS certificate is checked
    against the system's CAs, or ``ca``, and ``pins`` when given.

    Args:
        url: the JWK Set URL (``https://``).
        issuer: the accepted ``iss`` (required).
        audience: the accepted ``aud`` (required).
        ca: the issuer's CA file (PEM) instead of the system's trust store.
        pins: SPKI pins of the issuer's key.
        token_type: the required ``typ`` header (``None``: any).
        leeway: seconds of clock skew allowed.
        require_kid: refuse tokens without ``kid`` (the default). With ``False``, such a
            token is checked with the set's one key for its ``alg`` (for issuers that
            never set ``kid``); when several keys fit, it is refused.
        **options: further :class:`~sealbox.jwt.AsyncRemoteJWKSet` arguments
            (``cache_ttl``, ``min_refresh_interval``, ``timeout``, ``client``…).

    Close it (``await source.aclose()``) in the app's lifespan.
    """

    def __init__(
        self,
        url: str,
        *,
        issuer: str | Iterable[str],
        audience: str | Iterable[str],
        ca: str | os.PathLike[str] | None = None,
        pins: Iterable[str] | str = (),
        token_type: str | None = "at+jwt",  # noqa: S107 - a media type
        leeway: float = 5,
        require_kid: bool = True,
        **options: Any,
    ) -> None:
        self.keys = AsyncRemoteJWKSet(url, ca=ca, pins=pins, **options)
        self._verifier = _verifier(
            self.keys, issuer, audience, token_type, leeway, require_kid=require_kid
        )
        self._cache = VerifiedTokenCache()

    def __repr__(self) -> str:
        return f"RemoteJWKS({self.keys!r})"

    async def authenticate(self, token: str, *, thumbprint: str | None = None) -> AccessClaims:
        """The verified claims of ``token``, fetching the key set when needed.

        A token verified before is taken from the cache only while the key that verified
        it is still in the issuer's set: one the issuer took out (a compromised or retired
        key) verifies nothing more, tokens it verified earlier included.

        Raises:
            TokenError: not valid (the message says nothing more), or no key set
                could be fetched (the message says from where; code
                ``jwks_unreachable``, ``jwks_unverified``, or ``pin_mismatch`` for a
                server whose key matches no pin). The same codes when the set at hand
                lacks the token's key id and fetching it again failed: the issuer may
                have rotated that key in, and the token cannot be checked now.
        """
        now = time.time()
        entry = self._cache.get(token, now)
        if entry is not None:
            # The set at hand, fetched again once expired, as for any token: the cached
            # verdict holds while the same key object (the same fetched set) still has it.
            await self._ensure(entry["kid"])
            if self._key(entry["kid"], entry["alg"]) is not entry["key"]:
                entry = None
        if entry is None:
            try:
                header = decode_unverified(token).header
            except SealboxError:
                raise TokenError(_NOT_VALID) from None
            kid, alg = header.get("kid"), header.get("alg")
            kid = kid if isinstance(kid, str) else None
            alg = alg if isinstance(alg, str) else None
            await self._ensure(kid)
            try:
                claims = self._verifier.verify(token, now=now)
            except SealboxError:
                raise TokenError(_NOT_VALID) from None
            # The cache checks "exp" alone; the rest says which key verified the token.
            entry = {"exp": claims["exp"], "claims": claims, "kid": kid, "alg": alg}
            entry["key"] = self._key(kid, alg)
            self._cache.put(token, entry)
        claims = entry["claims"]
        _check_binding(claims, thumbprint)
        return claims_of(claims)

    async def _ensure(self, kid: str | None) -> None:
        try:
            await self.keys.ensure(kid)
        except PinMismatchError:
            raise TokenError(
                f"cannot fetch the key set: {self.keys!r} presented a key that matches no pin",
                code="pin_mismatch",
            ) from None

    def _key(self, kid: str | None, alg: str | None) -> VerificationKey | None:
        """The key of the set at hand that verifies a token of ``kid`` (``None``: none)."""
        try:
            return self.keys.find(kid, alg=alg)
        except TokenError:
            return None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.keys.aclose()
