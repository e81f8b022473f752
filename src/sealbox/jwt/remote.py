"""A JWK Set fetched over HTTPS with httpx2, cached, and refreshed on expiry or an unknown kid.

:class:`RemoteJWKSet` is a key source for :class:`~sealbox.jwt.TokenVerifier`.
It fetches the issuer's JWK Set (RFC 7517 §5; e.g. ``/.well-known/jwks.json``)
on first use and keeps it for ``Cache-Control: max-age`` (bounded) or
``cache_ttl`` seconds. When a token names a key id it does not know, it fetches
again at once, so that a key the issuer has just rotated in is found, but not
more often than every ``min_refresh_interval`` seconds, so that tokens with
made-up key ids cannot make it hammer the issuer. If a fetch fails, it keeps
using the keys it has for up to ``max_stale`` seconds.

The key set is imported with :meth:`JWKSet.from_json`'s policy; HMAC keys are
never accepted from a URL. The URL comes from configuration only: a token's
``jku`` header is never followed (RFC 8725 §3.10).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Final

import httpx2

from sealbox.exceptions import ConfigError, KeyFormatError, TokenError
from sealbox.jwt.jwk import MAX_JWKS_SIZE, JWKSet, VerificationKey

__all__ = ["RemoteJWKSet"]

log = logging.getLogger("sealbox.jwt")

_MAX_AGE: Final = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)\s*(?:,|$)", re.IGNORECASE)
_NO_STORE: Final = re.compile(r"(?:^|,)\s*(no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


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
        timeout: seconds for each fetch with the default client.
        cache_ttl: how long a fetched set is used when the response has no
            ``Cache-Control: max-age``.
        max_ttl: the longest a set is kept, whatever the response says.
        min_refresh_interval: the shortest time between two fetches.
        max_stale: how long the last good set is still used while fetches fail.
        allow_http: accept an ``http://`` URL (tests and loopback only: a key set
            fetched in clear can be replaced on the way).
        clock: a monotonic clock in seconds.

    Raises:
        ConfigError: a URL that is not https, intervals out of order, ``ca`` or
            ``pins`` together with ``ssl_context`` or ``client``, or a malformed pin.
        TLSConfigError: the ``ca`` file cannot be read.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0
       ``ca``, ``pins``.
    """

    __slots__ = (
        "_client",
        "_clock",
        "_expires",
        "_fetched_at",
        "_keys",
        "_lock",
        "_max_stale",
        "_max_ttl",
        "_min_interval",
        "_next_attempt",
        "_owns_client",
        "_ttl",
        "_url",
        "fetches",
    )

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
        parsed = _check_source(
            url,
            allow_http=allow_http,
            min_refresh_interval=min_refresh_interval,
            cache_ttl=cache_ttl,
            max_ttl=max_ttl,
            max_stale=max_stale,
        )
        pin_list = [pins] if isinstance(pins, str) else list(pins)
        if ca is not None or pin_list:
            if ssl_context is not None or client is not None:
                raise ConfigError("give ca and pins, ssl_context or client, not more than one")
            from sealbox.tls.context import client_context

            ssl_context = client_context(ca=ca, pins=pin_list)
        self._url = parsed
        self._owns_client = client is None
        self._client = client or httpx2.Client(
            verify=ssl_context or ssl.create_default_context(),
            timeout=timeout,
            follow_redirects=False,
        )
        self._ttl = cache_ttl
        self._max_ttl = max_ttl
        self._min_interval = min_refresh_interval
        self._max_stale = max_stale
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: JWKSet | None = None
        self._fetched_at = float("-inf")
        self._expires = float("-inf")
        self._next_attempt = float("-inf")
        self.fetches = 0
        """How many fetches were attempted (for monitoring)."""

    def __repr__(self) -> str:
        return f"RemoteJWKSet(url={self._where()!r})"

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
            TokenError: no such key after a refresh, or no key set could be fetched.
        """
        # Fast path, without the lock: a fresh set that has the key. A thread that is
        # fetching (up to `timeout` seconds) holds up only the lookups that need the fetch.
        keys, expires = self._keys, self._expires
        if keys is not None and kid is not None and kid in keys and self._clock() < expires:
            return keys.find(kid)
        with self._lock:
            now = self._clock()
            if self._keys is None or now >= self._expires:
                self._refresh(now)
            assert self._keys is not None
            try:
                return self._keys.find(kid, alg=alg)
            except TokenError:
                if kid is None or now - self._fetched_at < self._min_interval:
                    raise
            # A key id we do not know: the issuer may have rotated. Fetch once more.
            self._refresh(now)
            return self._keys.find(kid)

    def refresh(self) -> JWKSet:
        """Fetch the key set now (within ``min_refresh_interval``, keep the current one).

        Raises:
            TokenError: the set could not be fetched and there is none to fall back on.
        """
        with self._lock:
            self._refresh(self._clock())
            assert self._keys is not None
            return self._keys

    def _refresh(self, now: float) -> None:
        if now < self._next_attempt and self._keys is not None:
            return
        self._next_attempt = now + self._min_interval
        self.fetches += 1
        try:
            keys, ttl = self._fetch()
        except (httpx2.HTTPError, KeyFormatError, _FetchError) as exc:
            reason = _reason(exc)
            if self._keys is not None and now - self._fetched_at <= self._max_stale:
                log.warning(
                    "keeping the cached key set: fetching %s failed: %s", self._where(), reason
                )
                return
            self._keys = None
            unverified = reason == _UNTRUSTED
            raise TokenError(
                f"cannot fetch the key set from {self._where()}: {reason}",
                hint="trust the CA that issued the issuer's certificate (ca=)"
                if unverified
                else "check the issuer's JWKS URL and that it is reachable",
                code="jwks_unverified" if unverified else "jwks_unreachable",
                facts={"url": self._where()},
            ) from None
        self._keys = keys
        self._fetched_at = now
        self._expires = now + ttl

    def _fetch(self) -> tuple[JWKSet, float]:
        headers = {"Accept": "application/jwk-set+json, application/json"}
        with self._client.stream("GET", self._url, headers=headers) as response:
            if response.status_code != 200:
                raise _FetchError(f"HTTP status {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_SIZE:
                    raise _FetchError(f"the key set is larger than {MAX_JWKS_SIZE} bytes")
            cache_control = response.headers.get("cache-control", "")
        keys = JWKSet.from_json(bytes(body))
        return keys, self._lifetime(cache_control)

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


_UNTRUSTED: Final = "its certificate is not trusted"


def _check_source(
    url: str,
    *,
    allow_http: bool,
    min_refresh_interval: float,
    cache_ttl: float,
    max_ttl: float,
    max_stale: float,
) -> httpx2.URL:
    """The URL of a remote JWK Set, checked with its cache timings (blocking and async alike)."""
    parsed = httpx2.URL(url)
    scheme = parsed.scheme
    if scheme != "https" and not (allow_http and scheme == "http"):
        raise ConfigError(
            f"a JWK Set URL must be https, not {scheme or 'relative'}",
            hint="keys fetched in clear could be swapped on the way",
        )
    if not 0 <= min_refresh_interval <= cache_ttl <= max_ttl or max_stale < 0:
        raise ConfigError(
            "need 0 <= min_refresh_interval <= cache_ttl <= max_ttl and max_stale >= 0"
        )
    return parsed


class _FetchError(Exception):
    pass


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx2.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx2.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return _UNTRUSTED
    if isinstance(exc, httpx2.HTTPError):
        return type(exc).__name__
    return str(exc)
