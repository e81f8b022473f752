"""The requests session sealbox gives hvac: every call to Vault bounded in time and size.

requests' ``timeout`` bounds each socket read, not a call: a Vault, a proxy, or a man in
the middle of a plain-http development address that sends a byte now and then holds the
call (and the thread) for as long as it likes, and one that sends an endless or hugely
compressed body fills the memory. This session

- gives each call (``Session.request``, redirects included) a deadline ``timeout``
  seconds away, which every step keeps to: connecting, the TLS handshake, a proxy's
  answer to ``CONNECT``, and each read of the status line, the headers and the body
  wait at most for the time that is left, so a call ends by its deadline whatever the
  peer does (name resolution aside). The hooks are urllib3's and http.client's own:
  a connection class's ``response_class`` and ``_new_conn``, a pool's ``ConnectionCls``,
  a pool manager's ``pool_classes_by_scheme``;
- reads each answer's body (decompressed) into memory up to :data:`MAX_ANSWER_SIZE`
  bytes, and refuses a longer one (a ``Content-Length`` over it without reading it);
- sends a request for this machine (``localhost``, a loopback address) directly, never
  through ``$HTTP_PROXY`` or ``$HTTPS_PROXY``, as Vault's own client does;
- follows a redirect only to the same origin (scheme, host and port): Vault's own client
  refuses one from https to plain http, and sealbox goes further, since ``X-Vault-Token``
  and a write's values would go wherever ``Location`` points (a standby that does not
  forward names the active node, another host); and refuses one (301, 302, 303 to a
  ``POST``) after which requests would resend the request as a ``GET`` without its body;
- trusts, for a CA folder (``VAULT_CAPATH``), every PEM certificate in its files, as
  Vault's own client reads it (OpenSSL would look certificates up by hashed names only);
  checks Vault's certificate for ``server_name`` (``VAULT_TLS_SERVER_NAME``), if given;
- reads neither ``~/.netrc`` (its password for Vault's host would go to Vault as basic
  auth) nor ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` (a bundle not named for Vault);
- when made with ``read_retries``, sends a read (``GET``, ``HEAD``, ``LIST``), or a request
  sent inside :func:`repeatable`, again after an answer that says "not now"
  (:data:`RETRY_STATUSES`: 429 when Vault limits the rate, 503 when it is sealed or a
  standby, 500, 502 and 504 on the way), waiting what its ``Retry-After`` says (seconds or
  an HTTP date; up to :data:`MAX_RETRY_WAIT`) or else 0.5, 1, 2… seconds. A write is
  never sent again: it may have been done. Each attempt has its own deadline, and the
  waits are between attempts, never inside one; the last answer is returned as it came,
  for hvac to raise on. This is the one retry policy of sealbox's Vault clients: the KV
  source's reads and the Transit provider's calls both go through it;
- sends a read (or a request inside :func:`repeatable`) once more, on a new connection and
  within the same deadline, when it failed on a kept-alive connection before a byte of
  the answer came: Vault or a load balancer closed the connection, idle, as it was being
  reused, so the read never reached Vault (:class:`_Attempt`). Whatever ``read_retries``
  is; never a write (nor a login, a write too): a write that fails so may have been done.

Nothing here logs but the ``warnings`` of Vault's successful answers
(:func:`~sealbox.secrets.vault_client.report_warnings`, once per text), and no error made
here quotes a header or a body: what a retry re-sends (a token, a Transit plaintext) stays
in the request.

The errors are requests' own (``Timeout``, ``TooManyRedirects``, or a
``RequestException`` caused by :class:`AnswerTooLarge` or :class:`RedirectRefused`), for
:func:`sealbox.secrets.vault_client.transport_errors` to translate.

:class:`VaultAdapter` is hvac's JSON adapter reading an error answer whatever its JSON
holds (a proxy's list or string; ``errors`` as one string), so that hvac raises its own
exception for the status rather than an ``AttributeError``.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import functools
import http.client
import io
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from sealbox.exceptions import ExtraNotInstalledError
from sealbox.secrets.vault_client import is_loopback, is_loopback_http, report_warnings

try:
    # hvac's own HTTP stack: the vault extra brings it.
    import hvac.adapters
    import hvac.utils
    import requests
    import urllib3.exceptions
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ExtraNotInstalledError("vault", exc.name or "requests") from None

__all__ = [
    "MAX_ANSWER_SIZE",
    "MAX_RETRY_WAIT",
    "RETRY_STATUSES",
    "AnswerTooLarge",
    "RedirectRefused",
    "VaultAdapter",
    "repeatable",
    "retry_wait",
    "session",
]

MAX_ANSWER_SIZE: Final = 8 * 1024 * 1024
"""The largest answer body read from Vault, in bytes once decompressed (8 MiB).

Far above what KV v2 stores (Vault's integrated storage refuses an entry over 1 MiB) or
what a Transit batch of tens of thousands of keys answers; far below what hurts a process."""

_CHUNK: Final = 64 * 1024

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
"""Answers after which a read is sent again: Vault's 429 (rate limited) and 503 (sealed,
or a standby that does not forward), and a proxy's or Vault's passing 500, 502 and 504.
501 (not initialised) is not passing, and is not retried."""

MAX_RETRY_WAIT: Final = 10.0
"""The longest wait before a retry, in seconds. A ``Retry-After`` asking for longer is
not waited for: the answer is returned, and refused as it is."""

# Idempotent: sending one twice does what sending it once does (RFC 9110 section 9.2.2;
# LIST is Vault's own read of a folder).
_READ_METHODS: Final = frozenset({"GET", "HEAD", "LIST"})
_FIRST_BACKOFF: Final = 0.5

# Whether the requests sent now on this thread are safe to send twice (see repeatable()).
_repeatable: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sealbox_vault_repeatable", default=False
)


@contextlib.contextmanager
def repeatable() -> Iterator[None]:
    """Within: the requests this thread sends are as safe to send twice as a read, whatever
    their method, and are retried as reads are.

    For a ``POST`` that changes nothing in Vault: Transit's ``encrypt``, ``decrypt``,
    ``rewrap`` and ``datakey`` only read the key (sending one twice gives two answers, each
    as good, and the caller keeps the last). Never around a login or a write.
    """
    token = _repeatable.set(True)
    try:
        yield
    finally:
        _repeatable.reset(token)


def _may_repeat(method: str | bytes | None) -> bool:
    """Whether a request with ``method``, sent now, may be sent again."""
    verb = method.decode("ascii", "replace") if isinstance(method, bytes) else method or ""
    return verb.upper() in _READ_METHODS or _repeatable.get()


# When the call in progress on this thread must be over (time.monotonic()), or None.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "sealbox_vault_deadline", default=None
)


class _Attempt:
    """What one sending of a request saw of its connection: whether it was reused (had
    carried a request before) and whether any byte of the answer came. A read that failed
    on a reused connection before any byte was lost to a close the client could not yet
    see (urllib3 checks a pooled connection is open before reusing it, but a close can
    cross the request on the wire): sending it again on a new connection is safe."""

    __slots__ = ("answered", "reused")

    def __init__(self) -> None:
        self.reused = False
        self.answered = False


# The sending of a request in progress on this thread, or None.
_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "sealbox_vault_attempt", default=None
)


class AnswerTooLarge(Exception):  # noqa: N818 - carried inside requests' own exception
    """Vault's answer is longer than :data:`MAX_ANSWER_SIZE`."""


class RedirectRefused(Exception):  # noqa: N818 - carried inside requests' own exception
    """Vault redirected a request to another origin: ``where`` (``scheme://host:port``),
    and whether it is a downgrade to plain http; or (``status`` and ``method`` set) with
    a status after which the request would be resent as a ``GET`` without its body."""

    def __init__(self, where: str, *, downgrade: bool, status: int = 0, method: str = "") -> None:
        super().__init__(where)
        self.where = where
        self.downgrade = downgrade
        self.status = status
        self.method = method


def _left(request: Any = None) -> float | None:
    """Seconds left before the call's deadline (``None``: no deadline).

    Raises:
        requests.exceptions.ReadTimeout: it has passed.
    """
    deadline = _deadline.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise requests.exceptions.ReadTimeout("the call's deadline passed", request=request)
    return left


class _DeadlineReader(io.RawIOBase):
    """A socket's reading side whose every read waits at most until the call's deadline
    (if there is one), noting in the :class:`_Attempt` (if any) that an answer came."""

    def __init__(
        self, sock: socket.socket, deadline: float | None, attempt: _Attempt | None
    ) -> None:
        super().__init__()
        # A SocketIO, as http.client reads through: it keeps the socket open while this
        # reader is, after the connection itself lets go of it (``Connection: close``).
        self._raw = sock.makefile("rb", buffering=0)
        self._sock = sock
        self._deadline = deadline
        self._attempt = attempt

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the call's deadline passed")
            self._sock.settimeout(left)
        count = self._raw.readinto(buffer)
        if count and self._attempt is not None:
            self._attempt.answered = True
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading through a :class:`_DeadlineReader` during a call."""

    def __init__(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: Any = None
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        deadline, attempt = _deadline.get(), _attempt.get()
        if deadline is not None or attempt is not None:
            self.fp.close()
            self.fp = io.BufferedReader(_DeadlineReader(sock, deadline, attempt))


class _DeadlineConnection:
    """What :func:`_with_deadline` adds to a urllib3 connection class."""

    # http.client makes its answers, and a proxy's answer to CONNECT, of this class.
    response_class = _DeadlineResponse

    # Whether the socket has carried a request: set once one was sent, cleared on connecting.
    _sealbox_used = False

    def request(self, *args: Any, **kwargs: Any) -> None:
        # http.client connects inside the request (plain http): read whether it reuses
        # the socket first, and mark it used once the request is sent.
        attempt = _attempt.get()
        if attempt is not None:
            attempt.reused = getattr(self, "sock", None) is not None and self._sealbox_used
        try:
            super().request(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._sealbox_used = True

    def _new_conn(self) -> socket.socket:
        self._sealbox_used = False
        # urllib3 gives the TLS handshake that follows the timeout connecting had, again:
        # it gets only what is left of the call's (CPython bounds a handshake as a whole).
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        deadline = _deadline.get()
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                sock.close()
                raise urllib3.exceptions.ConnectTimeoutError(self, "the call's deadline passed")
            sock.settimeout(left)
        return sock


@functools.cache
def _with_deadline(connection_class: type[Any]) -> type[Any]:
    """``connection_class`` (urllib3's, a subclass of http.client's) keeping to the call's
    deadline: see :class:`_DeadlineConnection`."""
    return type(connection_class.__name__, (_DeadlineConnection, connection_class), {})


def _bound_pools(manager: Any) -> Any:
    """Make the pools a urllib3 pool manager creates use connections with a deadline."""
    classes = manager.pool_classes_by_scheme
    if not getattr(manager, "_sealbox_bound", False):
        manager.pool_classes_by_scheme = {
            scheme: type(
                pool.__name__, (pool,), {"ConnectionCls": _with_deadline(pool.ConnectionCls)}
            )
            for scheme, pool in classes.items()
        }
        manager._sealbox_bound = True
    return manager


class _BoundedAdapter(requests.adapters.HTTPAdapter):
    """Sends within the call's deadline; reads each answer's body up to the size limit;
    trusts ``ca_data`` (PEM text) for a CA folder; checks for ``server_name`` if given."""

    def __init__(self, ca_data: str | None = None, server_name: str | None = None) -> None:
        self._ca_data, self._server_name = ca_data, server_name
        super().__init__()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        kwargs: dict[str, Any] = dict(pool_kwargs)
        if self._ca_data is not None and "ca_cert_dir" in kwargs:
            kwargs["ca_cert_data"] = self._ca_data  # urllib3's own pool argument
        if self._server_name is not None and host_params.get("scheme") == "https":
            kwargs["server_hostname"] = self._server_name
            kwargs["assert_hostname"] = self._server_name
        return host_params, kwargs

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _bound_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _bound_pools(super().proxy_manager_for(proxy, **proxy_kwargs))

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        attempt = _Attempt()
        try:
            return self._send_once(request, attempt, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            # A timeout is not a close: Vault may be at work on the read.
            lost = attempt.reused and not attempt.answered
            if isinstance(exc, requests.exceptions.Timeout) or not lost:
                raise
            if not _may_repeat(request.method):
                raise
        # Outside the except: a failure of the resend is reported without the first's. It
        # goes on a new connection: the pool put an empty slot, not a connection, on top
        # of its stack in place of the one that failed.
        return self._send_once(request, _Attempt(), **kwargs)

    def _send_once(
        self, request: requests.PreparedRequest, attempt: _Attempt, **kwargs: Any
    ) -> requests.Response:
        left = _left(request)
        if left is not None:
            kwargs["timeout"] = left  # connecting, too, waits only for what is left
        if is_loopback(str(request.url)):
            # As Vault's own client (Go's ProxyFromEnvironment): never through a proxy from
            # $HTTP_PROXY / $HTTPS_PROXY. The proxy would get a plain-http development
            # server's token in clear, or reach its own loopback, another machine's Vault.
            kwargs["proxies"] = {}
            request.headers.pop("Proxy-Authorization", None)
        token = _attempt.set(attempt)
        try:
            response = super().send(request, stream=True, **kwargs)
            try:
                _read_body(response)
            except BaseException:
                response.close()
                raise
        finally:
            _attempt.reset(token)
        return response


def _read_body(response: requests.Response) -> None:
    """Read the body now, decompressed, refusing one over :data:`MAX_ANSWER_SIZE`."""
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_ANSWER_SIZE:
        raise _too_large(response)
    body = bytearray()
    try:
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > MAX_ANSWER_SIZE:
                raise _too_large(response)
    except requests.exceptions.ConnectionError as exc:
        # requests reports a read that timed out in the body as a ConnectionError.
        if exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError):
            raise requests.exceptions.ReadTimeout(exc.args[0], request=response.request) from None
        raise
    # What Response.content does after reading; the body is in memory now, whole.
    response._content = bytes(body)
    response._content_consumed = True  # type: ignore[attr-defined]


def _too_large(response: requests.Response) -> requests.exceptions.RequestException:
    error = requests.exceptions.RequestException(
        f"answer larger than {MAX_ANSWER_SIZE} bytes", request=response.request
    )
    error.__cause__ = AnswerTooLarge(MAX_ANSWER_SIZE)
    return error


def retry_wait(
    retry_after: str | None, attempt: int, *, now: datetime | None = None
) -> float | None:
    """Seconds to wait before retry number ``attempt + 1``: what ``Retry-After`` says
    (delay-seconds or an HTTP date, RFC 9110 section 10.2.3), else 0.5 s doubled per
    attempt; ``None`` when ``Retry-After`` asks for more than :data:`MAX_RETRY_WAIT`."""
    text = (retry_after or "").strip()
    wait: float | None = None
    if text.isascii() and text.isdigit():
        wait = float(text)
    elif text:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            wait = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    if wait is None:
        return min(_FIRST_BACKOFF * (1 << min(attempt, 16)), MAX_RETRY_WAIT)
    return wait if wait <= MAX_RETRY_WAIT else None


class _VaultSession(requests.Session):
    """See the module docstring."""

    def __init__(
        self,
        read_retries: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        ca_data: str | None = None,
        server_name: str | None = None,
    ) -> None:
        super().__init__()
        adapter = _BoundedAdapter(ca_data, server_name)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self._read_retries = read_retries
        self._sleep = sleep

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        retries = self._read_retries if _may_repeat(method) else 0
        attempt = 0
        while True:
            response = self._request_once(method, url, *args, **kwargs)
            if attempt >= retries or response.status_code not in RETRY_STATUSES:
                return response
            wait = retry_wait(response.headers.get("Retry-After"), attempt)
            if wait is None:
                return response
            response.close()
            self._sleep(wait)
            attempt += 1

    def _request_once(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> Any:
        timeout = kwargs.get("timeout")
        if _deadline.get() is not None or not isinstance(timeout, int | float):
            return super().request(method, url, *args, **kwargs)
        token = _deadline.set(time.monotonic() + timeout)
        try:
            return super().request(method, url, *args, **kwargs)
        finally:
            _deadline.reset(token)

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if request.auth is None and not self.auth:
            # requests would otherwise send ~/.netrc's login for Vault's host as basic auth.
            request.auth = lambda prepared: prepared  # the token goes in X-Vault-Token
        return super().prepare_request(request)

    def merge_environment_settings(self, url: Any, proxies: Any, *args: Any) -> Any:
        stream, verify, cert = args
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        # Not $REQUESTS_CA_BUNDLE in place of True: the CA given for Vault, or the default.
        settings["verify"] = verify if verify is not None else self.verify
        return settings

    def rebuild_method(self, prepared_request: Any, response: Any) -> None:
        # requests resends a POST redirected with 301, 302 or 303 as a GET without its
        # body (browsers' way): a KV write would become a read of the secret, a Transit
        # call a GET. Vault's own client resends the method and body; refused here.
        method = str(prepared_request.method)
        super().rebuild_method(prepared_request, response)
        if str(prepared_request.method) != method:
            where = _origin(str(prepared_request.url))
            raise requests.exceptions.InvalidURL(
                f"redirect {response.status_code} of {method} refused", request=prepared_request
            ) from RedirectRefused(
                where, downgrade=False, status=response.status_code, method=method.upper()
            )

    def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
        # Vault's standby nodes redirect clients to the active node (307), and requests
        # follows with every header but ``Authorization``, so ``X-Vault-Token`` and a
        # write's values would go wherever the ``Location`` points. As Vault's own client
        # does, a redirect that would downgrade to plain http is refused (from plain http
        # on this machine, the development server, to plain http on this machine aside);
        # and one to another origin too, whose answer would be a 403 without the token.
        target, previous = str(prepared_request.url), str(response.request.url)
        stays_local = is_loopback_http(previous) and is_loopback_http(target)
        downgrade = urlsplit(target).scheme != "https" and not stays_local
        if downgrade or _origin(target) != _origin(previous):
            where = _origin(target)
            raise requests.exceptions.InvalidURL(
                f"redirect to {where} refused", request=prepared_request
            ) from RedirectRefused(where, downgrade=downgrade)
        # Not requests' own: it adds ~/.netrc's login (and strips for other hosts, refused).


class VaultAdapter(hvac.adapters.JSONAdapter):
    """hvac's JSON adapter, raising hvac's exception for an error status whatever JSON the
    answer holds: hvac's own reads ``errors`` from it as from an object, and a list, a
    string or ``null`` (a proxy's answer) would raise ``AttributeError`` instead.

    It asks hvac's documented ``request`` not to raise (``raise_exception=False``) and
    raises through ``hvac.utils.raise_for_error`` itself. The ``warnings`` of a successful
    answer are logged (:func:`~sealbox.secrets.vault_client.report_warnings`)."""

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        raise_exception: bool = True,
        **kwargs: Any,
    ) -> Any:
        response = super().request(method, url, headers, raise_exception=False, **kwargs)
        if isinstance(response, dict):  # hvac's reading of a 200 with a JSON body
            report_warnings(method, url, response)
        if (
            raise_exception
            and not self.ignore_exceptions
            and isinstance(response, requests.Response)
            and not response.ok
        ):
            _raise_for_error(method, url, response)
        return response


def _raise_for_error(method: str, url: str, response: requests.Response) -> None:
    body: Any = None
    media = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if media == "application/json":
        try:
            body = response.json()
        except ValueError:
            body = None
    body = body if isinstance(body, dict) else None
    errors: Any = body.get("errors") if body is not None else None
    if isinstance(errors, str):
        errors = [errors]  # one message, not a list of its letters
    elif isinstance(errors, list):
        errors = [str(e) for e in errors]
    else:
        errors = None
    # No text: the exception's message would carry whatever the answer's body said.
    hvac.utils.raise_for_error(
        method, url, response.status_code, None, errors=errors, text=None, json=body
    )


def _origin(url: str) -> str:
    """``scheme://host:port`` of ``url`` (the port given or the scheme's own)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}:{port}"


def session(
    verify: str | bool,
    *,
    read_retries: int = 0,
    sleep: Callable[[float], None] = time.sleep,
    ca_data: str | None = None,
    cert: tuple[str, str] | None = None,
    server_name: str | None = None,
) -> requests.Session:
    """A session for hvac: see the module docstring. ``verify`` is requests' own;
    ``read_retries`` how many times a read (or a request inside :func:`repeatable`) is
    sent again after a :data:`RETRY_STATUSES` answer (0: never); ``sleep`` waits between
    them; ``ca_data`` the PEM certificates of the CA folder ``verify`` names; ``cert`` a
    client certificate and its key (files); ``server_name`` the name checked for."""
    vault_session = _VaultSession(read_retries, sleep, ca_data, server_name)
    # hvac takes a given session's own verify and cert over its arguments: set them here.
    vault_session.verify, vault_session.cert = verify, cert
    return vault_session
