"""What a remote JWK Set's blocking and async fetchers share: the URL, the cache and its rules.

:class:`JWKSCache` holds the last good set and decides everything but the fetch
itself: whether the set at hand answers a lookup, whether a lookup fetches (never more
often than every ``min_refresh_interval`` seconds), how long a fetched set lives
(``Cache-Control``, bounded), whether a failed fetch falls back on the set it has (for
``max_stale`` seconds) or is an error, what the error says, and what the callers that
waited on a fetch learn of its outcome (a failed fetch with no set to fall back on is the
answer of every lookup until ``min_refresh_interval`` has passed). While the last fetch
failed, a lookup of a key id the set at hand lacks gets that failure too, with when the
next fetch may be tried: the issuer may have rotated that key in since the set was
fetched, so the token cannot be checked, which is not the same as not valid.
:class:`~sealbox.jwt.RemoteJWKSet` fetches with ``httpx2.Client`` under a thread lock,
:class:`~sealbox.jwt.remote_async.AsyncRemoteJWKSet` with ``httpx2.AsyncClient`` under an
asyncio lock; both feed the response to :class:`BodyReader`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Final

import httpx2

from sealbox.exceptions import ConfigError, KeyFormatError, PinMismatchError, TokenError
from sealbox.jwt.jwk import MAX_JWKS_SIZE, JWKSet, VerificationKey

if TYPE_CHECKING:
    from sealbox.tls.client import TLSFailure

__all__ = [
    "ACCEPT",
    "FETCH_ERRORS",
    "TIMED_OUT",
    "BodyReader",
    "FetchError",
    "JWKSCache",
    "check_timeout",
    "client_tls",
    "default_context",
]

log = logging.getLogger("sealbox.jwt")

#: The ``Accept`` header of a key set request.
# A key set is small: it is asked for, and taken, uncompressed. A compressed body is
# refused rather than inflated: one small chunk of it can inflate to many megabytes before
# the size limit sees it.
ACCEPT: Final = {
    "Accept": "application/jwk-set+json, application/json",
    "Accept-Encoding": "identity",
}

_MAX_AGE: Final = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)\s*(?:,|$)", re.IGNORECASE)
_NO_STORE: Final = re.compile(r"(?:^|,)\s*(no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)
#: Why a fetch that took too long failed (httpx's timeouts say the same).
TIMED_OUT: Final = "timed out"


class FetchError(Exception):
    """A response that is not a key set (status, size)."""


#: What a failed fetch raises: the transport's errors, a bad response, a bad key set.
FETCH_ERRORS: Final = (httpx2.HTTPError, KeyFormatError, FetchError)


def _pinned_context(
    ca: str | os.PathLike[str] | None, pins: Iterable[str] | str
) -> ssl.SSLContext | None:
    """The TLS context ``ca`` and ``pins`` ask for, or ``None`` when they ask for nothing."""
    pin_list = [pins] if isinstance(pins, str) else list(pins)
    if ca is None and not pin_list:
        return None
    return _client_context(ca=ca, pins=pin_list)


def _client_context(
    ca: str | os.PathLike[str] | None = None, pins: Iterable[str] | str = ()
) -> ssl.SSLContext:
    from sealbox.tls.context import client_context

    return client_context(ca=ca, pins=pins)


def default_context() -> ssl.SSLContext:
    """The system's trust store, with the policy of every sealbox client context (TLS 1.2
    or newer, ECDHE and AEAD suites only, strict X.509, names from the subjectAltName
    only), not the standard library's looser default (CBC suites, the subject's CN)."""
    return _client_context()


def client_tls(
    ca: str | os.PathLike[str] | None,
    pins: Iterable[str] | str,
    ssl_context: ssl.SSLContext | None,
    *,
    client_given: bool,
) -> ssl.SSLContext | None:
    """The TLS context of the client a fetcher makes itself (``None``: the system's trust
    store, :func:`default_context`), once its TLS arguments are checked.

    ``ca`` and ``pins``, ``ssl_context`` and a client of the caller's are three ways to
    say whom to trust: one at most may be given.

    Raises:
        ConfigError: more than one of them.
        TLSConfigError: the ``ca`` file cannot be read.
    """
    pinned = _pinned_context(ca, pins)
    if (pinned is not None) + (ssl_context is not None) + client_given > 1:
        raise ConfigError("give ca and pins, ssl_context or client, not more than one")
    return pinned or ssl_context


def check_timeout(timeout: float) -> None:
    """Refuse a fetch ``timeout`` that bounds nothing, or ends every fetch at once.

    Raises:
        ConfigError: not a positive, finite number of seconds (NaN included).
        TypeError: not a number.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError("timeout must be a number of seconds")
    if not 0 < timeout < math.inf:
        raise ConfigError("timeout must be a positive number of seconds, and finite")


class BodyReader:
    """A key set response's body, refused past :data:`~sealbox.jwt.jwk.MAX_JWKS_SIZE` bytes
    or, with a ``deadline`` (``time.monotonic()``), once it has passed; and refused when it
    is compressed (its ``Content-Encoding``): it is read raw. ``cache_control`` is the
    response's ``Cache-Control`` header (empty without one).

    httpx's timeouts bound each read, not the fetch: a server that sends a byte now
    and then would hold the fetch (and the lookups waiting for it) for days.
    """

    def __init__(self, response: httpx2.Response, deadline: float | None = None) -> None:
        if response.status_code != 200:
            raise FetchError(f"HTTP status {response.status_code}")
        encoding = response.headers.get("content-encoding")
        if encoding and encoding.strip().lower() != "identity":
            raise FetchError(
                f"the key set came compressed ({encoding[:20]!r}), though asked for uncompressed"
            )
        self.cache_control: str = response.headers.get("cache-control", "")
        self._body = bytearray()
        self._deadline = deadline

    def add(self, chunk: bytes) -> None:
        self._body += chunk
        if len(self._body) > MAX_JWKS_SIZE:
            raise FetchError(f"the key set is larger than {MAX_JWKS_SIZE} bytes")
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise FetchError(TIMED_OUT)

    def keys(self) -> JWKSet:
        return JWKSet.from_json(bytes(self._body))


class JWKSCache:
    """The fetched set of one URL, and the rules of fetching it again (see the module doc).

    Raises:
        ConfigError: a URL that is not https (unless ``allow_http``), or intervals
            out of order.
    """

    __slots__ = (
        "_expires",
        "_failure",
        "_fetched_at",
        "_max_stale",
        "_max_ttl",
        "_min_interval",
        "_next_attempt",
        "_ttl",
        "_unreachable",
        "clock",
        "ended",
        "fetches",
        "keys",
        "url",
    )

    def __init__(
        self,
        url: str,
        *,
        allow_http: bool,
        cache_ttl: float,
        max_ttl: float,
        min_refresh_interval: float,
        max_stale: float,
        clock: Callable[[], float],
    ) -> None:
        try:
            parsed = httpx2.URL(url)
        except httpx2.InvalidURL as exc:
            raise ConfigError(f"the JWK Set URL is not a valid URL: {exc}") from None
        scheme = parsed.scheme
        if scheme != "https" and not (allow_http and scheme == "http"):
            raise ConfigError(
                f"a JWK Set URL must be https, not {scheme or 'relative'}",
                hint="keys fetched in clear could be swapped on the way",
            )
        if not parsed.host:
            raise ConfigError("the JWK Set URL has no host")
        # Written so that NaN, which compares false with everything, fails them too.
        if not (0 <= min_refresh_interval <= cache_ttl <= max_ttl and max_stale >= 0):
            raise ConfigError(
                "need 0 <= min_refresh_interval <= cache_ttl <= max_ttl and max_stale >= 0"
            )
        self.url = parsed
        self.clock = clock
        self._ttl = cache_ttl
        self._max_ttl = max_ttl
        self._min_interval = min_refresh_interval
        self._max_stale = max_stale
        self.keys: JWKSet | None = None
        self._fetched_at = float("-inf")
        self._expires = float("-inf")
        self._next_attempt = float("-inf")
        self.fetches = 0
        # How many fetches ended, and why the last one failed (None: it did not), for the
        # callers that waited for it.
        self.ended = 0
        self._failure: TokenError | PinMismatchError | None = None
        # Why the last fetch failed while a set was kept (None: it did not fail).
        self._unreachable: TokenError | None = None

    def serving(self, kid: str | None, *, fetching: bool) -> JWKSet | None:
        """The set at hand when it answers a lookup of ``kid`` without a fetch, else ``None``.

        It answers when it holds ``kid`` (any set holds ``None``: a token without one is
        matched by algorithm) and is fresh, or has expired while a fetch is under way
        (``fetching``; up to ``timeout`` seconds, from an issuer that may be slow): that
        set serves until the fetch ends. Read without the lock: the set is read once.
        """
        keys = self.keys
        if keys is None or (kid is not None and kid not in keys):
            return None
        return keys if self.clock() < self._expires or fetching else None

    def needs_fetch(self, kid: str | None, now: float) -> bool:
        """Whether a lookup of ``kid`` fetches the set: there is none, it has expired, or
        it lacks ``kid`` (the issuer may have rotated) and was fetched at least
        ``min_refresh_interval`` ago, so that made-up key ids cannot hammer the issuer."""
        keys = self.keys
        if keys is None or now >= self._expires:
            return True
        return kid is not None and kid not in keys and now - self._fetched_at >= self._min_interval

    def find(self, kid: str | None, *, alg: str | None = None) -> VerificationKey:
        """The key of the set at hand for ``kid`` (``alg``: see
        :meth:`JWKSet.find <sealbox.jwt.jwk.JWKSet.find>`), once the lookup's fetch, if
        any, is over.

        Raises:
            TokenError: no set at hand; the set lacks ``kid`` while the last fetch failed
                (see :meth:`check_reachable`); or no such key.
        """
        keys = self.keys
        if keys is None:
            raise TokenError(f"no key set fetched from {self.where()} yet")
        self.check_reachable(kid)
        return keys.find(kid, alg=alg)

    def check_reachable(self, kid: str | None) -> None:
        """Raise when the set at hand lacks ``kid`` and the last fetch failed.

        That set may be out of date: the issuer may have rotated ``kid`` in since. The
        token cannot be checked now, which is not saying that it is not valid. After a
        fetch that succeeded, a key id the set lacks is unknown (made-up ids cannot turn
        "not valid" into "cannot check" while the issuer answers).

        Raises:
            TokenError: the last fetch's error (code ``jwks_unreachable`` or
                ``jwks_unverified``), saying when the next fetch may be tried (fact
                ``retry_after``, whole seconds). The key id is not in it (it is the
                token's).
        """
        down, keys = self._unreachable, self.keys
        if down is None or kid is None or keys is None or kid in keys:
            return
        wait = max(0, math.ceil(self._next_attempt - self.clock()))
        raise TokenError(
            f"{down}; the key set at hand has no key with the token's key id, which the "
            f"issuer may have added since: the next fetch may be tried in {wait} s",
            hint=down.hint,
            code=down.code,
            facts={**down.facts, "retry_after": str(wait)},
        )

    def ended_since(self, ended: int) -> bool:
        """Whether a fetch ended since :attr:`ended` was ``ended``: the caller waited on it,
        and its outcome is the caller's too (else each caller waiting on a failing issuer
        would fetch in turn).

        Raises:
            TokenError, PinMismatchError: that fetch failed (a new exception for each
                caller).
        """
        if self.ended == ended:
            return False
        if self._failure is not None:
            raise _again(self._failure)
        return True

    @contextlib.contextmanager
    def outcome(self) -> Iterator[None]:
        """Around a fetch: counts it as ended, and keeps its error for :meth:`ended_since`.

        A fetch cut short (its task cancelled: a timeout around the request that made it)
        has no outcome to share, and is not counted: a caller that waited on it fetches
        itself, rather than go on as if a set had been fetched (with none at hand, a good
        token was refused as not valid).
        """
        self._failure = None
        try:
            yield
        except (TokenError, PinMismatchError) as exc:
            self._failure = exc
            self.ended += 1
            raise
        self.ended += 1

    def begin(self, now: float) -> bool:
        """Whether to fetch now; counts the attempt when it is ``True``.

        Within ``min_refresh_interval`` of a fetch that failed with no set to fall back
        on, the lookup gets that failure again rather than a fetch: else each request
        would fetch while the issuer is down, the very load that keeps it down.

        Raises:
            TokenError, PinMismatchError: that failure (a new exception for each caller).
        """
        if now < self._next_attempt:
            if self.keys is not None:
                return False
            if self._failure is not None:
                raise _again(self._failure)
        self._next_attempt = now + self._min_interval
        self.fetches += 1
        return True

    def succeeded(self, keys: JWKSet, cache_control: str, now: float) -> None:
        """Keep a fetched set for as long as its ``Cache-Control`` says, within bounds."""
        self.keys = keys
        self._fetched_at = now
        self._expires = now + self._lifetime(cache_control)
        self._unreachable = None

    def failed(self, exc: Exception, now: float) -> None:
        """Keep the last good set while it is not too stale (logged), or raise.

        A set kept answers lookups of the key ids it holds; those of others get the error
        this fetch would have raised (:meth:`check_reachable`), until a fetch succeeds.

        Raises:
            TokenError: code ``jwks_unverified`` (the server's certificate did not
                verify: an unknown CA, another host's name, expired; the message says
                which) or ``jwks_unreachable``.
        """
        from sealbox.tls.client import tls_failure

        tls = tls_failure(exc) if isinstance(exc, httpx2.HTTPError) else None
        reason = _reason(exc) if tls is None else tls.reason
        error = self._error(exc, reason, tls)
        if self.keys is not None and now - self._fetched_at <= self._max_stale:
            log.warning("keeping the cached key set: fetching %s failed: %s", self.where(), reason)
            self._unreachable = error
            return
        self.keys = None
        self._unreachable = None
        raise error from None

    def _error(self, exc: Exception, reason: str, tls: TLSFailure | None) -> TokenError:
        """The error of a failed fetch, for ``reason``."""
        # Any certificate that did not verify (unknown CA, another host's, expired) is
        # "unverified"; the message and hint say which, and what to do.
        unverified = tls is not None and tls.certificate
        if tls is not None:
            hint = tls.hint
        elif isinstance(exc, KeyFormatError):  # the server answered: its URL is right
            hint = (
                "the issuer's server answered with a key set sealbox refuses: the issuer "
                "must correct it"
            )
        else:
            hint = "check the issuer's JWKS URL and that it is reachable"
        return TokenError(
            f"cannot fetch the key set from {self.where()}: {reason}",
            hint=hint,
            code="jwks_unverified" if unverified else "jwks_unreachable",
            facts={"url": self.where()},
        )

    def _lifetime(self, cache_control: str) -> float:
        if _NO_STORE.search(cache_control):
            return self._min_interval
        m = _MAX_AGE.search(cache_control)
        if m is None:
            return self._ttl
        return min(max(float(m.group(1)), self._min_interval), self._max_ttl)

    def where(self) -> str:
        """The URL without credentials or query, for messages and logs."""
        return str(self.url.copy_with(userinfo=b"", query=None))


def _again(failure: TokenError | PinMismatchError) -> TokenError | PinMismatchError:
    """The same error, new, for one more caller to raise (one exception object raised by
    two callers would carry both tracebacks, or the last one's only)."""
    if isinstance(failure, PinMismatchError):
        again = PinMismatchError(failure.seen, hint=failure.hint)
        again.facts.update(failure.facts)  # the server it came from
        return again
    return TokenError(str(failure), hint=failure.hint, code=failure.code, facts=failure.facts)


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx2.TimeoutException):
        return TIMED_OUT
    if isinstance(exc, httpx2.HTTPError):
        return type(exc).__name__
    return str(exc)
