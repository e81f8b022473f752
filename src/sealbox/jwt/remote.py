"""A JWK Set fetched over HTTPS with httpx2, cached, and refreshed on expiry or an unknown kid.

:class:`RemoteJWKSet` is a key source for :class:`~sealbox.jwt.TokenVerifier`.
It fetches the issuer's JWK Set (RFC 7517 §5; e.g. ``/.well-known/jwks.json``)
on first use and keeps it for ``Cache-Control: max-age`` (bounded) or
``cache_ttl`` seconds. When a token names a key id it does not know, it fetches
again at once, so that a key the issuer has just rotated in is found, but not
more often than every ``min_refresh_interval`` seconds, so that tokens with
made-up key ids cannot make it hammer the issuer. If a fetch fails, it keeps
using the keys it has for up to ``max_stale`` seconds; a key id they lack is then
answered with the fetch's error (``jwks_unreachable``), not as unknown, until a fetch
succeeds: the issuer may have rotated that key in during its outage. Threads that need a fetch share
one, and its outcome, a failure included; a thread whose key is in the set at hand does
not wait for a fetch under way, even when that set has expired.

The key set is imported with :meth:`JWKSet.from_json`'s policy; HMAC keys are
never accepted from a URL. The URL comes from configuration only: a token's
``jku`` header is never followed (RFC 8725 §3.10).

With the client it makes itself, ``timeout`` bounds each fetch as a whole — connecting,
the status line and headers, and the body — not each read: httpx's timeouts restart with
every byte, so a server sending a byte now and then would hold the fetch, and the lookups
waiting for it, for as long as it liked. When the time is up, the fetch's connection is
shut down (a timer thread; the connection is learnt from httpcore's ``trace`` extension,
a new one for each fetch), and a read blocked on it returns at once.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx2

from sealbox.exceptions import TokenError
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

__all__ = ["RemoteJWKSet"]


class RemoteJWKSet:
    """Verification keys from a JWK Set URL, cached and refreshed.

    Args:
        url: the JWK Set URL. ``https://`` only, unless ``allow_http`` is set.
        client: an ``httpx2.Client`` to fetch with (its TLS settings apply); by
            default one is made with ``ssl_context`` and ``timeout``.
        ssl_context: the TLS context of the default client (the system's trust
            store by default).
        ca: a CA certificate file (PEM) that the issuer's certificate must chain to,
            instead of the system's trust store: a shortcut for
            ``ssl_context=client_context(ca=…)``.
        pins: SPKI pins (``sha256//BASE64``, see :mod:`sealbox.tls.pinning`) the
            issuer's public key must also match, on top of the certificate checks
            (with ``ca`` or the system's trust store): a shortcut for
            ``ssl_context=client_context(ca=…, pins=…)``.
        timeout: seconds for each fetch with the default client, from connecting to
            the last byte of the body (not per read).
        cache_ttl: how long a fetched set is used when the response has no
            ``Cache-Control: max-age``.
        max_ttl: the longest a set is kept, whatever the response says.
        min_refresh_interval: the shortest time between two fetches.
        max_stale: how long the last good set is still used while fetches fail.
        allow_http: accept an ``http://`` URL (tests and loopback only: a key set
            fetched in clear can be replaced on the way).
        clock: a monotonic clock in seconds.

    Raises:
        ConfigError: a URL that is not https, intervals out of order (or NaN), a
            ``timeout`` that is not positive and finite, more than one of
            ``ca``/``pins``, ``ssl_context`` and ``client``, or a malformed pin.
        TLSConfigError: the ``ca`` file cannot be read.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0
       ``ca``, ``pins``.
    """

    __slots__ = ("_cache", "_client", "_lock", "_owns_client", "_timeout")

    def __init__(
        self,
        url: str,
        *,
        client: httpx2.Client | None = None,
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
        self._client = client or httpx2.Client(
            verify=verify or default_context(),
            timeout=timeout,
            follow_redirects=False,
            # A connection of its own for each fetch, which _Deadline learns of and can
            # end (fetches are minutes apart: keeping one open would save little).
            limits=httpx2.Limits(max_keepalive_connections=0),
        )
        self._lock = threading.Lock()

    @property
    def fetches(self) -> int:
        """How many fetches were attempted (for monitoring)."""
        return self._cache.fetches

    def __repr__(self) -> str:
        return f"RemoteJWKSet(url={self._cache.where()!r})"

    def __enter__(self) -> RemoteJWKSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this object made it."""
        if self._owns_client:
            self._client.close()

    def find(self, kid: str | None, *, alg: str | None = None) -> VerificationKey:
        """Return the key with this id, fetching the set when needed (see the class doc).

        Without ``kid``: the set's one key that verifies ``alg`` (see :class:`KeySource
        <sealbox.jwt.jwk.KeySource>`).

        Raises:
            TokenError: no such key after a refresh (code ``invalid_token``); or no key
                set could be fetched, or the set at hand lacks ``kid`` and fetching it
                again failed (code ``jwks_unreachable`` or ``jwks_unverified``: the
                token cannot be checked now, with fact ``retry_after``).
        """
        # Fast path, without the lock: a set that has the key and may answer on its own.
        # A token without kid too: else it would wait for a fetch under way (up to the
        # fetch's timeout, from a slow issuer) though the set at hand holds its one key.
        cache = self._cache
        keys = cache.serving(kid, fetching=self._lock.locked())
        if keys is not None:
            with contextlib.suppress(TokenError):
                return keys.find(kid, alg=alg)
            # No one key of the set fits (kid None only): the lookup below decides, with
            # the set a fetch under way brings.
        ended = cache.ended
        with self._lock:
            if not cache.ended_since(ended):
                now = cache.clock()
                if cache.needs_fetch(kid, now):
                    self._refresh(now)
            return cache.find(kid, alg=alg)

    def refresh(self) -> JWKSet:
        """Fetch the key set now (within ``min_refresh_interval``, keep the current one).

        Raises:
            TokenError: the set could not be fetched and there is none to fall back on.
        """
        with self._lock:
            self._refresh(self._cache.clock())
            assert self._cache.keys is not None
            return self._cache.keys

    def _refresh(self, now: float) -> None:
        if self._cache.begin(now):
            with self._cache.outcome():
                self._fetch(now)

    def _fetch(self, now: float) -> None:
        cache = self._cache
        deadline = None if self._timeout is None else _Deadline(self._timeout)
        extensions = {} if deadline is None else {"trace": deadline.trace}
        try:
            with (
                deadline or contextlib.nullcontext(),
                self._client.stream(
                    "GET", cache.url, headers=ACCEPT, extensions=extensions
                ) as response,
            ):
                body = BodyReader(response, None if deadline is None else deadline.at)
                for chunk in response.iter_raw():
                    body.add(chunk)
                if deadline is not None:
                    deadline.stop()  # before the connection is closed
            keys = body.keys()
        except FETCH_ERRORS as exc:
            # A connection shut down at the deadline fails as a closed one: say why.
            cache.failed(FetchError(TIMED_OUT) if deadline and deadline.passed else exc, now)
            return
        cache.succeeded(keys, body.cache_control, now)


class _Deadline:
    """Shuts the fetch's connection down ``seconds`` after the fetch began, unless it
    ended before (the module docstring says why)."""

    __slots__ = ("_done", "_lock", "_sock", "_timer", "at", "passed")

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.passed = False
        self._done = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """The fetch is over: never shut anything down from now on."""
        with self._lock:
            self._done = True
            self._sock = None
        self._timer.cancel()

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's ``trace`` callback: remember the socket of each connection made
        (TCP, then TLS over it; a proxy's tunnel too)."""
        if not event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                if not self._done:
                    self._sock = sock
                    if self.passed:
                        self._shut()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.passed = True
            self._shut()

    def _shut(self) -> None:
        # No socket yet (still connecting): trace() shuts it down once it is made.
        if self._sock is None:
            return
        # socket.socket's own shutdown, also for an SSLSocket: its override would drop
        # the TLS state under the thread reading through it.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
