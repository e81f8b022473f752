"""A JWK Set fetched over HTTPS without blocking an event loop: :class:`AsyncRemoteJWKSet`.

The same policy as :class:`~sealbox.jwt.RemoteJWKSet` — fetched on first use, kept for
``Cache-Control: max-age`` (bounded) or ``cache_ttl`` seconds, fetched again at once for
a key id it does not know but never more often than every ``min_refresh_interval``
seconds, the last good set kept for ``max_stale`` seconds while fetches fail (a key id it
lacks answered then with the fetch's error, not as unknown), HMAC keys
never accepted, ``jku`` never followed — with the fetch done by ``httpx2.AsyncClient``.

An async program awaits :meth:`AsyncRemoteJWKSet.ensure` with the token's key id, then
verifies synchronously (:class:`~sealbox.jwt.TokenVerifier` calls :meth:`find`, which
only reads the cached set). Concurrent callers that need a fetch share one, and its
outcome, a failure included; a caller whose key is in the set at hand does not wait for
a fetch under way, even when that set has expired.

TLS: the system's trust store by default; ``ca`` trusts a private CA instead; ``pins``
(SPKI, ``sha256//…``) checks the server's key right after the handshake as well.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Callable, Iterable

import httpx2

from sealbox.jwt.jwk import JWKSet, VerificationKey
from sealbox.jwt.remote_cache import (
    ACCEPT,
    FETCH_ERRORS,
    TIMED_OUT,
    BodyReader,
    FetchError,
    JWKSCache,
    check_timeout,
    client_tls,
    default_context,
)

__all__ = ["AsyncRemoteJWKSet"]


class AsyncRemoteJWKSet:
    """Verification keys from a JWK Set URL, fetched asynchronously, cached and refreshed.

    Args:
        url: the JWK Set URL; ``https://`` only, unless ``allow_http`` is set.
        client: an ``httpx2.AsyncClient`` to fetch with (its TLS settings apply).
        ssl_context: the TLS context of the default client (the system's trust store
            by default).
        ca: a CA certificate file (PEM) that the issuer's certificate must chain to,
            instead of the system's trust store.
        pins: SPKI pins the issuer's key must match (``sha256//BASE64``), on top of
            the certificate checks.
        timeout: seconds for each fetch with the default client.
        cache_ttl, max_ttl, min_refresh_interval, max_stale: as
            :class:`~sealbox.jwt.RemoteJWKSet`.
        allow_http: accept an ``http://`` URL (tests and loopback only).
        clock: a monotonic clock in seconds.

    Raises:
        ConfigError: a URL that is not https, intervals out of order (or NaN), a
            ``timeout`` that is not positive and finite, more than one of
            ``ca``/``pins``, ``ssl_context`` and ``client``, or a malformed pin.
        TLSConfigError: the ``ca`` file cannot be read.

    Use it as an async context manager (``async with AsyncRemoteJWKSet(…) as keys:``),
    or call :meth:`aclose`, to close the client it made; a fetch after that makes a new
    one (an app whose lifespan closed it and runs again, as a test client per test does;
    it may do so in another event loop, which this object follows).

    .. versionchanged:: 0.1.0
       ``ssl_context``; an async context manager.
    """

    __slots__ = (
        "_cache",
        "_client",
        "_lock",
        "_loop",
        "_owns_client",
        "_reopen",
        "_timeout",
    )

    def __init__(
        self,
        url: str,
        *,
        client: httpx2.AsyncClient | None = None,
        ssl_context: ssl.SSLContext | None = None,
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
        self._cache = JWKSCache(
            url,
            allow_http=allow_http,
            cache_ttl=cache_ttl,
            max_ttl=max_ttl,
            min_refresh_interval=min_refresh_interval,
            max_stale=max_stale,
            clock=clock,
        )
        check_timeout(timeout)
        verify = client_tls(ca, pins, ssl_context, client_given=client is not None)
        self._owns_client = client is None
        # The client this object makes gets the whole fetch bounded; a caller's, its own.
        self._timeout = timeout if client is None else None
        self._reopen: Callable[[], httpx2.AsyncClient] | None = None
        if client is None:
            context = verify or default_context()

            def new_client() -> httpx2.AsyncClient:
                return httpx2.AsyncClient(verify=context, timeout=timeout, follow_redirects=False)

            self._reopen = new_client
            client = new_client()
        self._client = client
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def fetches(self) -> int:
        """How many fetches were attempted (for monitoring)."""
        return self._cache.fetches

    def __repr__(self) -> str:
        return f"AsyncRemoteJWKSet(url={self._cache.where()!r})"

    async def __aenter__(self) -> AsyncRemoteJWKSet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object made it."""
        if self._owns_client:
            await self._client.aclose()

    def find(self, kid: str | None, *, alg: str | None = None) -> VerificationKey:
        """The key with this id from the cached set (no fetch: await :meth:`ensure` first).

        Without ``kid``: the set's one key that verifies ``alg`` (see
        :class:`~sealbox.jwt.KeySource`).

        Raises:
            TokenError: no such key, or no set fetched yet; the set lacks ``kid`` while
                the last fetch failed (as :meth:`ensure` raises it).
        """
        return self._cache.find(kid, alg=alg)

    async def ensure(self, kid: str | None) -> None:
        """Fetch the set if it is missing or expired, or if it lacks ``kid`` (at a bounded rate).

        Raises:
            TokenError: no set could be fetched and there is none to fall back on; or
                the set at hand lacks ``kid`` and fetching it again failed (the token
                cannot be checked now: code ``jwks_unreachable`` or ``jwks_unverified``,
                fact ``retry_after``). A ``kid`` the set lacks after a fetch that
                succeeded raises nothing here: :meth:`find` says it is unknown.
            PinMismatchError: the server's key matches none of ``pins`` (before any
                request was sent), as :class:`~sealbox.jwt.RemoteJWKSet` raises it.
        """
        cache = self._cache
        if cache.serving(kid, fetching=self._lock.locked()) is not None:
            return
        ended = cache.ended
        async with self._loop_lock():
            if not cache.ended_since(ended):
                now = cache.clock()
                if cache.needs_fetch(kid, now):
                    await self._refresh(now)
            cache.check_reachable(kid)

    async def refresh(self) -> JWKSet:
        """Fetch the set now (within ``min_refresh_interval``, keep the current one).

        Raises:
            TokenError: the set could not be fetched and there is none to fall back on.
        """
        async with self._loop_lock():
            await self._refresh(self._cache.clock())
            assert self._cache.keys is not None
            return self._cache.keys

    def _loop_lock(self) -> asyncio.Lock:
        """The lock of the running event loop, whose fetches use a client of this loop.

        An app started again in the same process (a test client per test) runs in a new
        loop; an asyncio lock waited on in one loop refuses the waiters of another, and
        the client's keep-alive connections belong to the loop that made them (both
        RuntimeErrors). A client of the caller's is the caller's to manage.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None and self._reopen is not None:
                self._client = self._reopen()
            self._loop = loop
            self._lock = asyncio.Lock()
        return self._lock

    async def _refresh(self, now: float) -> None:
        if self._cache.begin(now):
            with self._cache.outcome():
                await self._fetch(now)

    async def _fetch(self, now: float) -> None:
        cache = self._cache
        if self._reopen is not None and self._client.is_closed:
            # Closed by aclose() (a lifespan's exit), and used again: a closed client
            # raises RuntimeError, which no fetch error covers (a 500 in an app).
            self._client = self._reopen()
        try:
            # httpx's timeouts bound each read; this bounds the fetch (a trickling server).
            async with asyncio.timeout(self._timeout):
                async with self._client.stream("GET", cache.url, headers=ACCEPT) as response:
                    body = BodyReader(response)
                    async for chunk in response.aiter_raw():
                        body.add(chunk)
            keys = body.keys()
        except TimeoutError:
            cache.failed(FetchError(TIMED_OUT), now)
            return
        except FETCH_ERRORS as exc:
            cache.failed(exc, now)
            return
        cache.succeeded(keys, body.cache_control, now)
