"""A lean ASGI entry for the transit operations, answered before any middleware or routing.

``POST /v1/keys/{name}/{operation}`` (``encrypt``, ``decrypt``, ``rewrap``, ``datakey``,
``sign``, ``verify``, ``hmac``) on a small input costs the service little more than
``GET /users/me`` does: a cached token check, a cached key, a few microseconds of
cryptography, one audit line. Through FastAPI, the framework's work around it cost
several times that: Starlette's error and exception layers, the service's pure-ASGI
middlewares (each wrapping ``send``), matching the path against every route, solving
the dependencies, a ``Request`` and a ``Response`` and their header objects. This
entry is asked first, as :class:`~sealbox.service.routes.users_fast.UsersMeFastPath`
is, and answers the request itself with the same pieces the routes use: the request
model (or, for ``encrypt`` and ``decrypt``, the hand checks of
:mod:`sealbox.service.routes.transit_single` and
:mod:`sealbox.service.routes.transit_batch`), the bearer header parsing and
:meth:`Accounts.authenticate_now <sealbox.accounts.core.Accounts.authenticate_now>`, the
handlers of :mod:`sealbox.service.routes.transit` with their scope checks and audit
records, the same refusals. It adds what the middlewares would have added: the
security headers and the internal-error answer. The status, headers, body and audit
record are those of the route, for every outcome it answers.

**What it takes.** A ``POST`` to an operation's path (no ``root_path``) with a key name
the route's pattern takes, a JSON content type (``application/json`` or ``…+json``: the
routes read no other body as JSON), one ``Content-Length`` within the transit body
limit and no ``Transfer-Encoding`` (the body-limit middleware judges those), and a
body the request model accepts as it is. Anything else goes on to the FastAPI
application unchanged, with the body already read given again: a body the model
refuses, an empty, chunked or oversized one, a client that went away. FastAPI reads
the JSON before it checks the token, and the token before the fields, so answering
only bodies the model accepts keeps every refusal in the route's order.

The routes stay in place: they describe the API in OpenAPI and answer all the rest.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import email.message
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from sealbox.integrations.fastapi.bearer import (
    authorization,
    bearer_token,
    identity_thumbprint,
)
from sealbox.integrations.fastapi.client_cert import scope_client_identity
from sealbox.service.deps import checked_caller
from sealbox.service.errors import ApiError, lean_refusal, response_parts
from sealbox.service.middleware import (
    Header,
    security_headers,
    with_security_headers,
)
from sealbox.service.routes.transit import HANDLERS
from sealbox.service.routes.transit_batch import LEAN_OPERATIONS, lean_body
from sealbox.service.routes.transit_call import TransitCall, client_address
from sealbox.service.routes.transit_single import SINGLE_OPERATIONS, single_body
from sealbox.service.runtime import Runtime
from sealbox.transit.registry import is_key_name

__all__ = [
    "BodyEntry",
    "TransitEntry",
    "again",
    "body_within",
    "json_headers",
    "read_body",
    "send_answer",
]

ASGICall = Callable[[Scope, Receive, Send], Awaitable[None]]

_PREFIX = "/v1/keys/"
_PATH = re.compile(r"/v1/keys/([^/]+)/(" + "|".join(HANDLERS) + ")")
_JSON = b"application/json"
_CONTENT_TYPE = (b"content-type", _JSON)


def operation_of(scope: Scope) -> tuple[str, str] | None:
    """The key name and operation of a ``POST`` to an operation's path, or ``None``.

    Only names the route's pattern takes; any other path is the routes' to answer.
    """
    if scope["type"] == "http" and scope["method"] == "POST":
        path = scope["path"]
        if path.startswith(_PREFIX):
            match = _PATH.fullmatch(path)
            if match is not None and is_key_name(match[1]):
                return match[1], match[2]
    return None


def reads_json(scope: Scope) -> bool:
    """Whether the route reads the body as JSON: its first content type is
    ``application/json`` or ``application/…+json`` (parsed as FastAPI parses it)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            if value == _JSON:
                return True
            message = email.message.Message()
            message["content-type"] = value.decode("latin-1")
            subtype = message.get_content_subtype()
            return message.get_content_maintype() == "application" and (
                subtype == "json" or subtype.endswith("+json")
            )
    return False  # no content type: the route does not read the body as JSON


def _lean(operation: str, raw: bytes) -> dict[str, Any] | None:
    """The body of a batch :mod:`~sealbox.service.routes.transit_batch` answers, or ``None``.

    A body without the bytes ``"batch_input"`` is not looked at twice: single inputs
    go to the model at once.
    """
    if operation in LEAN_OPERATIONS and b'"batch_input"' in raw:
        return lean_body(operation, raw)
    return None


Prepared = Callable[[TransitCall, str], Awaitable[Response | bytes]]
"""An operation ready to run for a caller on a key: its answer, a ``Response`` or the
JSON body of a 200."""


def prepare(operation: str, raw: bytes) -> Prepared:
    """The operation ``operation`` with its body ``raw``, checked as the route checks it.

    A batch of ``encrypt`` or ``decrypt`` runs as :mod:`~sealbox.service.routes.transit_batch`
    runs it, a single one as :mod:`~sealbox.service.routes.transit_single` does, when
    their checks take the body; anything else through the request model and the
    route's handler.

    Raises:
        ValidationError: the request model refuses the body.
    """
    if operation in SINGLE_OPERATIONS and b'"batch_input"' not in raw:
        single = single_body(operation, raw)
        if single is not None:
            one = SINGLE_OPERATIONS[operation]
            return lambda call, name: one(call, name, single)
    else:
        lean = _lean(operation, raw)
        if lean is not None:
            batch, size = LEAN_OPERATIONS[operation], len(raw)
            return lambda call, name: batch(call, name, lean, size)
    model, handler = HANDLERS[operation]
    body = model.model_validate_json(raw)
    return lambda call, name: handler(call, name, body)


class BodyEntry:
    """An entry that reads a request's whole body, up to ``limit`` bytes.

    Args:
        limit: the largest body, in bytes, of a transit request (the body-limit
            middleware's limit for its path); a larger one is left to that middleware.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        self.limit = limit


class TransitEntry(BodyEntry):
    """Answer the transit operations as the routes do, without Starlette's stack."""

    __slots__ = ()

    def takes(self, scope: Scope) -> tuple[str, str] | None:
        """The key name and operation when this entry reads ``scope``'s body, else ``None``."""
        target = operation_of(scope)
        if target is None or scope.get("root_path") or not reads_json(scope):
            return None
        return target if body_within(scope, self.limit) else None

    async def __call__(
        self,
        runtime: Runtime,
        target: tuple[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        application: ASGICall,
    ) -> None:
        """Answer ``scope`` (one :meth:`takes` gave ``target`` for), or hand it to
        ``application`` (with the body read so far) when the route must judge it."""
        messages: list[Message] = []
        raw = await read_body(receive, messages, self.limit)
        operation: Prepared | None = None
        if raw:  # an empty body is no body to the route
            try:
                operation = prepare(target[1], raw)
            except ValidationError:
                operation = None
        if operation is None:
            await application(scope, again(messages, receive), send)
            return
        extra = security_headers(scope)
        try:
            answer = await self._answer(runtime, scope, target, operation)
        except Exception as exc:  # noqa: BLE001 - answered as the routes and middlewares do
            status, headers, content = lean_refusal(scope, exc, extra)
        else:
            if isinstance(answer, bytes):
                status, headers, content = 200, json_headers(answer, extra), answer
            else:
                status, headers, content = response_parts(answer)
                headers = with_security_headers(headers, extra)
        await send_answer(send, status, headers, content)

    @staticmethod
    async def _answer(
        runtime: Runtime, scope: Scope, target: tuple[str, str], operation: Prepared
    ) -> Response | bytes:
        """The route's answer, or its refusal as an :class:`ApiError` (audited, as
        :func:`~sealbox.service.routes.transit.run_operation` audits the route's)."""
        # In the route's order: the header, then the accounts, then the token.
        token = bearer_token(authorization(scope))
        thumbprint = identity_thumbprint(scope_client_identity(scope))
        caller = await checked_caller(runtime.accounts, token, thumbprint)
        call = TransitCall(runtime, client_address(scope), caller)
        try:
            return await operation(call, target[0])
        except ApiError as exc:
            call.refused(target[1], target[0], exc.code)
            raise


def json_headers(content: bytes, extra: tuple[Header, ...]) -> list[Header]:
    """The headers of a JSON 200 with body ``content``: a Response's two, then the security
    headers ``extra`` (none repeats them)."""
    return [(b"content-length", str(len(content)).encode()), _CONTENT_TYPE, *extra]


async def send_answer(send: Send, status: int, headers: list[Header], content: bytes) -> None:
    """Send a whole answer: its start, then its body in one message."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def body_within(scope: Scope, limit: int) -> bool:
    """Whether ``scope`` gives one ``Content-Length`` of at most ``limit`` bytes and no
    ``Transfer-Encoding``: a body an entry may read whole (the body-limit middleware
    judges any other)."""
    length = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            if length is not None or not value.isdigit():
                return False
            length = int(value)
        elif name == b"transfer-encoding":
            return False
    return length is not None and length <= limit


async def read_body(receive: Receive, messages: list[Message], limit: int) -> bytes | None:
    """The whole body, every message kept in ``messages``; ``None`` when the route must
    see it (a disconnect, or more bytes than ``limit``)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def again(messages: list[Message], receive: Receive) -> Receive:
    """``receive``, giving the messages already read first."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
