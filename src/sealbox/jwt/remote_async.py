"""A JWK Set fetched over HTTPS without blocking an event loop: :class:`AsyncRemoteJWKSet`.

The same policy as :class:`~sealbox.jwt.RemoteJWKSet` — fetched on first use, kept for
``Cache-Control: max-age`` (bounded) or ``cache_ttl`` seconds, fetched again at once for
a key id it does not know but never more often than every ``min_refresh_interval``
seconds, the last good set kept for ``max_stale`` seconds while fetches fail, HMAC keys
never accepted, ``jku`` never followed — with the fetch done by ``httpx2.AsyncClient``.

An async program awaits :meth:`AsyncRemoteJWKSet.ensure` with the token's key id, then
verifies synchronously (:class:`~sealbox.jwt.TokenVerifier` calls :meth:`find`, which
only reads the cached set). Concurrent callers that need a fetch share one.

TLS: the system's trust store by default; ``ca`` trusts a private CA instead; ``pins``
(SPKI, ``sha256//…``) checks the server's key right after the handshake as well.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import Callable, Iterable

import httpx2

from sealbox.exceptions import ConfigError, KeyFormatError, TokenError
from sealbox.jwt.jwk import MAX_JWKS_SIZE, JWKSet, VerificationKey
from sealbox.jwt.remote import _MAX_AGE, _NO_STORE, _check_source, _FetchError, _reason

__all__ = ["AsyncRemoteJWKSet"]

log = logging.getLogger("sealbox.jwt")


class AsyncRemoteJWKSet:
    """Verification keys from a JWK Set URL, fetched asynchronously, cached and refreshed.

    Args:
        url: the JWK Set URL; ``https://`` only, unless ``allow_http`` is set.
        client: an ``httpx2.AsyncClient`` to fetch with (its TLS settings apply).
        ca: a CA certificate file (PEM) that the issuer's certificate must chain to,
            instead of the system's trust store.
        pins: SPKI pins the issuer's key must match (``sha256//BASE64``).
        timeout: seconds for each fetch with the default client.
        cache_ttl, max_ttl, min_refresh_interval, max_stale: as
            :class:`~sealbox.jwt.RemoteJWKSet`.
        allow_http: accept an ``http://`` URL (tests and loopback only).
        clock: a monotonic clock in seconds.

    Raises:
        ConfigError: a URL that is not https, intervals out of order, or ``client``
            together with ``ca`` or ``pins``.
        TLSConfigError: the ``ca`` file cannot be read.
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx2.AsyncClient | None = None,
        ca: str | os.PathLike[str] | None = None,
        pins: Iterable[str] | str = (),
        timeout: float = 5.0,
        cache_ttl: float = 300.0,
        max_ttl: float = 86_400.0,
        min_refresh_interval: float = 30.0,
        max_stale: float = 86_400.0,
        allow_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parsed = _check_source(
            url,
            allow_http=allow_http,
            min_refresh_interval=min_refresh_interval,
            cache_ttl=cache_ttl,
            max_ttl=max_ttl,
            max_stale=max_stale,
        )
        pins = [pins] if isinstance(pins, str) else list(pins)
        if client is not None and (ca is not None or pins):
            raise ConfigError("give client, or ca and pins, not both")
        context: ssl.SSLContext
        if ca is not None or pins:
            from sealbox.tls.context import client_context

            context = client_context(ca=ca, pins=pins)
        else:
            context = ssl.create_default_context()
        self._url = parsed
        self._owns_client = client is None
        self._client = client or httpx2.AsyncClient(
            verify=context, timeout=timeout, follow_redirects=False
        )
        self._ttl = cache_ttl
        self._max_ttl = max_ttl
        self._min_interval = min_refresh_interval
        self._max_stale = max_stale
        self._clock = clock
        self._lock = asyncio.Lock()
        self._keys: JWKSet | None = None
        self._fetched_at = float("-inf")
        self._expires = float("-inf")
        self._next_attempt = float("-inf")
        self.fetches = 0
        """How many fetches were attempted (for monitoring)."""

    def __repr__(self) -> str:
        return f"AsyncRemoteJWKSet(url={self._where()!r})"

    async def aclose(self) -> None:
        """Close the HTTP client if this object made it."""
        if self._owns_client:
            await self._client.aclose()

    def find(self, kid: str | None, *, alg: str | None = None) -> VerificationKey:
        """The key with this id from the cached set (no fetch: await :meth:`ensure` first).

        Without ``kid``: the set's one key that verifies ``alg`` (see
        :class:`~sealbox.jwt.KeySource`).

        Raises:
            TokenError: no such key, or no set fetched yet.
        """
        if self._keys is None:
            raise TokenError(f"no key set fetched from {self._where()} yet")
        return self._keys.find(kid, alg=alg)

    def _has(self, kid: str | None) -> bool:
        keys = self._keys
        if keys is None:
            return False
        # A token without kid is matched by algorithm, after the fetch: nothing to refetch for.
        return kid is None or kid in keys

    async def ensure(self, kid: str | None) -> None:
        """Fetch the set if it is missing or expired, or if it lacks ``kid`` (at a bounded rate).

        Raises:
            TokenError: no set could be fetched and there is none to fall back on.
            PinMismatchError: the server's key matches none of ``pins`` (before any
                request was sent), as :class:`~sealbox.jwt.RemoteJWKSet` raises it.
        """
        now = self._clock()
        if now < self._expires and self._has(kid):
            return
        async with self._lock:
            now = self._clock()
            if self._keys is None or now >= self._expires:
                await self._refresh(now)
            elif not self._has(kid) and now - self._fetched_at >= self._min_interval:
                # A key id we do not know: the issuer may have rotated. Fetch once more.
                await self._refresh(now)

    async def refresh(self) -> JWKSet:
        """Fetch the set now (within ``min_refresh_interval``, keep the current one).

        Raises:
            TokenError: the set could not be fetched and there is none to fall back on.
        """
        async with self._lock:
            await self._refresh(self._clock())
            assert self._keys is not None
            return self._keys

    async def _refresh(self, now: float) -> None:
        if now < self._next_attempt and self._keys is not None:
            return
        self._next_attempt = now + self._min_interval
        self.fetches += 1
        try:
            keys, ttl = await self._fetch()
        except (httpx2.HTTPError, KeyFormatError, _FetchError) as exc:
            reason = _reason(exc)
            if self._keys is not None and now - self._fetched_at <= self._max_stale:
                log.warning(
                    "keeping the cached key set: fetching %s failed: %s", self._where(), reason
                )
                return
            self._keys = None
            raise TokenError(
                f"cannot fetch the key set from {self._where()}: {reason}",
                hint="check the issuer's JWKS URL and that it is reachable",
            ) from None
        self._keys = keys
        self._fetched_at = now
        self._expires = now + ttl

    async def _fetch(self) -> tuple[JWKSet, float]:
        headers = {"Accept": "application/jwk-set+json, application/json"}
        async with self._client.stream("GET", self._url, headers=headers) as response:
            if response.status_code != 200:
                raise _FetchError(f"HTTP status {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_SIZE:
                    raise _FetchError(f"the key set is larger than {MAX_JWKS_SIZE} bytes")
            cache_control = response.headers.get("cache-control", "")
        return JWKSet.from_json(bytes(body)), self._lifetime(cache_control)

    def _lifetime(self, cache_control: str) -> float:
        if _NO_STORE.search(cache_control):
            return self._min_interval
        m = _MAX_AGE.search(cache_control)
        if m is None:
            return self._ttl
        return min(max(float(m.group(1)), self._min_interval), self._max_ttl)

    def _where(self) -> str:
        # Never log credentials that may sit in the URL.
        return str(self._url.copy_with(userinfo=b"", query=None))
