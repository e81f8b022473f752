"""ASGI middleware: unexpected errors, a request-body limit, JSON bodies only on the JSON
routes, security headers on every answer.

All are plain ASGI (not ``BaseHTTPMiddleware``), so they add no task or buffer
per request.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import logging
from typing import Final
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sealbox.integrations.fastapi.errors import ErrorCode
from sealbox.integrations.fastapi.strict_json import JSON_ONLY, is_non_json_body
from sealbox.service.access_log import shown_target
from sealbox.service.framing import AMBIGUOUS_LENGTH

Header = tuple[bytes, bytes]

__all__ = [
    "INTERNAL_ERROR_BODY",
    "INTERNAL_ERROR_HEADERS",
    "BodyLimitMiddleware",
    "InternalErrorMiddleware",
    "JSONBodyMiddleware",
    "SecurityHeadersMiddleware",
    "log_unhandled",
    "security_headers",
    "with_security_headers",
]

log = logging.getLogger("sealbox.service")

# A path's characters kept as they are when it is logged (RFC 3986 §3.3's pchar and "/").
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"
# Two years, as the HSTS preload list asks (hstspreload.org).
HSTS = b"max-age=63072000; includeSubDomains"
_API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# Swagger UI's assets under /docs: scripts and styles of this origin only. The two
# docs pages set their own policy, which adds their inline scripts by hash.
_DOCS_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
)
# Every answer: with the CSP and HSTS, the set OWASP's REST Security Cheat Sheet gives
# for an API. no-store first: where a route adds its own (users_router's, after the
# content type), the answer's headers are in the order the lean entries send them.
_COMMON = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)
# The docs pages only: documents a browser renders. A JSON answer loads nothing
# (default-src 'none') and opens no window, and uvicorn checks every header it sends.
_DOCUMENT = (
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# The four sets, built once: which one an answer gets depends only on its path and scheme.
_EXTRA = {
    (docs, tls): (
        *_COMMON,
        *(_DOCUMENT if docs else ()),
        (b"content-security-policy", _DOCS_CSP if docs else _API_CSP),
        *(((b"strict-transport-security", HSTS),) if tls else ()),
    )
    for docs in (False, True)
    for tls in (False, True)
}
DOCS_PREFIX = "/docs"

#: The body of the 500 answered for an unexpected error.
INTERNAL_ERROR_BODY = b'{"error":"internal_error","message":"internal error"}'
#: The headers of that 500 (before the security headers).
INTERNAL_ERROR_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", str(len(INTERNAL_ERROR_BODY)).encode()),
)


#: The code and answer of a body that is not JSON on a JSON route (RFC 9110 §15.5.16): the
#: answer the auth router's routes give in an app of one's own (strict_json), built once.
UNSUPPORTED_MEDIA_TYPE: Final = ErrorCode.UNSUPPORTED_MEDIA_TYPE.value
_UNSUPPORTED_BODY = json.dumps(
    {"error": UNSUPPORTED_MEDIA_TYPE, "message": JSON_ONLY}, separators=(",", ":")
).encode()
_UNSUPPORTED_START: Final = {
    "type": "http.response.start",
    "status": 415,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_UNSUPPORTED_BODY)).encode()),
    ],
}
#: The path prefixes of sealbox's own routes that take JSON bodies, and the form routes
#: among them (RFC 6749, 7009, 7662 take ``application/x-www-form-urlencoded``).
JSON_PREFIXES: Final = ("/auth/", "/users/", "/clients", "/v1/keys/")
FORM_PATHS: Final = frozenset({"/auth/token", "/auth/revoke", "/auth/introspect"})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


def security_headers(scope: Scope, docs_prefix: str = DOCS_PREFIX) -> tuple[Header, ...]:
    """The headers :class:`SecurityHeadersMiddleware` adds to the answer to ``scope``."""
    docs = str(scope.get("path", "")).startswith(docs_prefix)
    return _EXTRA[docs, scope.get("scheme") == "https"]


def with_security_headers(headers: list[Header], extra: tuple[Header, ...]) -> list[Header]:
    """``headers``, then each of ``extra`` whose name they do not already have."""
    present = {k.lower() for k, _ in headers}
    return [*headers, *((k, v) for k, v in extra if k not in present)]


def log_unhandled(scope: Scope, exc: BaseException) -> None:
    """Log an unexpected error: its type, the method and the path, no message or traceback.

    The path redacted as the access log shows it (a registered secret is found as it
    is, before encoding), then percent-encoded again: a ``%0A`` the client sent must not
    start a line of its own in the log.
    """
    path = quote(shown_target(str(scope.get("path", ""))), safe=_PATH_SAFE)
    log.error("unhandled %s on %s %s", type(exc).__name__, scope.get("method"), path)


class SecurityHeadersMiddleware:
    """Add HSTS (over TLS), CSP, nosniff, the frame policy and ``no-store``; on the docs
    pages, the referrer and opener policies too."""

    def __init__(self, app: ASGIApp, *, docs_prefix: str = DOCS_PREFIX) -> None:
        self.app = app
        self.docs_prefix = docs_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope, self.docs_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(list(message.get("headers", [])), extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class InternalErrorMiddleware:
    """Answer an unexpected error with a JSON 500 and keep the connection open.

    Only the error's type is logged, with the method and path: the message of an
    unexpected error may hold request data. The exception goes no further, so the
    server neither prints a traceback nor closes a keep-alive connection. If the
    answer had already started, the connection is cut (the error goes on to the
    server): a half-sent answer cannot be completed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log_unhandled(scope, exc)
            if started:
                raise
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": list(INTERNAL_ERROR_HEADERS),
                }
            )
            await send({"type": "http.response.body", "body": INTERNAL_ERROR_BODY})


class JSONBodyMiddleware:
    """Answer 415 ``unsupported_media_type`` to a body that is not JSON on a JSON route.

    FastAPI reads a body as JSON only when its ``Content-Type`` says so; any other body
    (a form, ``text/plain``, no type at all) reached the route as bytes and was refused
    as a 422 ``validation_error`` about the body's shape, which tells the client nothing
    about what to change. ``POST``, ``PUT`` and ``PATCH`` with a body under
    :data:`JSON_PREFIXES` are checked, the forms of :data:`FORM_PATHS` aside; Vault's
    paths are not (Vault's server reads a body whatever its type, and ``curl -d`` sends a
    form's). The answer is built once; the check reads the request's headers only.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _BODY_METHODS:
            path = scope["path"]
            if (
                path.startswith(JSON_PREFIXES)
                and path not in FORM_PATHS
                and is_non_json_body(scope["headers"])
            ):
                await send(_UNSUPPORTED_START)
                await send({"type": "http.response.body", "body": _UNSUPPORTED_BODY})
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse ambiguous framing (400), and bodies larger than ``limit`` bytes (413).

    A request with both ``Content-Length`` and ``Transfer-Encoding`` is answered 400
    and the connection closed (RFC 9112 §6.3): a front proxy may have read its body
    differently, and whatever follows on the connection cannot be trusted. (sealbox's
    connection layer refuses it before any HTTP parser reads it; this covers the app
    served by another ASGI server.)

    A ``Content-Length`` above the limit is refused before the body is read; a
    chunked body is counted as it arrives and refused when it passes the limit. Both
    answers close the connection: the rest of the body is never read. So does any
    answer given before a chunked body was read to its end.
    ``prefix_limits`` gives other limits to paths that start with a prefix (the
    first match wins).
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, prefix_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.prefix_limits = tuple((prefix_limits or {}).items())

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.prefix_limits:
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self._limit_for(path)
        vault = _speaks_vault(path)
        names = {name for name, _ in scope.get("headers", ())}
        if b"content-length" in names and b"transfer-encoding" in names:
            await _close_with(send, 400, "invalid_request", AMBIGUOUS_LENGTH, vault=vault)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await _too_large(send, limit, vault=vault)
                    return
        received = 0
        started = False
        exceeded = False
        # A chunked body the app answers without reading to its end (a 404, a 405) would
        # be read and thrown away until the body timeout: that answer ends the connection.
        unread = b"transfer-encoding" in names

        async def counting_receive() -> Message:
            nonlocal received, exceeded, unread
            message = await receive()
            if message["type"] == "http.request":
                unread = unread and bool(message.get("more_body", False))
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    # An HTTPException passes through FastAPI's body parsing untouched
                    # (other errors there become a 400) and reaches the JSON handler.
                    raise HTTPException(413, f"the request body is larger than {limit} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if exceeded or unread:
                    # The 413 of the app's error handler, or an answer given before the
                    # chunked body ended: the rest of the body is not read, so the
                    # connection ends with this answer (as _too_large's).
                    message["headers"] = [
                        *message.get("headers", ()),
                        (b"connection", b"close"),
                    ]
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if exceeded and not started:
                await _too_large(send, limit, vault=vault)
                return
            raise


def _speaks_vault(path: str) -> bool:
    """Whether ``path`` is one of the Vault API's (``/v1/…`` but sealbox's own ``/v1/keys``),
    whose clients read errors as ``{"errors": [...]}``."""
    return path.startswith("/v1/") and not path.startswith("/v1/keys")


async def _too_large(send: Send, limit: int, *, vault: bool = False) -> None:
    await _close_with(
        send,
        413,
        "payload_too_large",
        f"the request body is larger than {limit} bytes",
        vault=vault,
    )


async def _close_with(
    send: Send, status: int, code: str, message: str, *, vault: bool = False
) -> None:
    """Answer a JSON error (in the Vault API's shape on its paths) and close the connection."""
    shaped = {"errors": [message]} if vault else {"error": code, "message": message}
    body = json.dumps(shaped).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
