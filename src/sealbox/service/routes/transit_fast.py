"""A lean ASGI entry for the transit operations: ``POST /v1/keys/{name}/{operation}``.

A transit operation on a small input costs less than FastAPI's own work on the
request: matching it against every route of every router, then solving its
dependencies and validating its body through several layers. This middleware
answers the seven operations (``encrypt``, ``decrypt``, ``rewrap``, ``datakey``,
``sign``, ``verify``, ``hmac``) itself, with the same request models, handlers,
scope checks, audit records and error bodies as the routes of
:mod:`sealbox.service.routes.transit`. Those routes stay in place: they describe
the API in OpenAPI, and they answer whatever this entry does not take (a body
whose content type is not JSON, a key name that fails validation), exactly as
before.

Batches of ``encrypt`` and ``decrypt`` go further: their bodies are checked and run
without the request model (:mod:`sealbox.service.routes.transit_batch`), with the
same answers.

It sits inside the body-limit and security-header middlewares, so their rules
apply to its answers too.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sealbox.service.audit import AuditUnavailableError
from sealbox.service.deps import bearer_token, resolve_caller
from sealbox.service.errors import (
    ApiError,
    audit_unavailable_response,
    error_response,
    validation_error_response,
)
from sealbox.service.routes.transit import HANDLERS, NAME_PATTERN, TransitCall
from sealbox.service.routes.transit_batch import LEAN_OPERATIONS, lean_body

__all__ = ["TransitFastPath"]


_PREFIX = "/v1/keys/"
_PATH = re.compile(r"/v1/keys/([^/]+)/(" + "|".join(HANDLERS) + ")")
_NAME = re.compile(NAME_PATTERN)


def _lean(operation: str, raw: bytes) -> dict[str, Any] | None:
    """The body of a batch :mod:`~sealbox.service.routes.transit_batch` answers, or ``None``.

    A body without the bytes ``"batch_input"`` is not looked at twice: single inputs
    go to the model at once.
    """
    if operation in LEAN_OPERATIONS and b'"batch_input"' in raw:
        return lean_body(operation, raw)
    return None


def _json_body(scope: Scope) -> bool:
    """Whether FastAPI would read the body as JSON: no content type, or a JSON one."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True


class TransitFastPath:
    """Answer the transit operations without FastAPI's routing and dependency layers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path.startswith(_PREFIX):
                match = _PATH.fullmatch(path)
                if match is not None and _NAME.match(match[1]) and _json_body(scope):
                    await self._operate(match[1], match[2], scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _operate(
        name: str, operation: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        request = Request(scope, receive)
        response: Response
        try:
            token = bearer_token(request.headers.get("authorization") or "")
            caller = await resolve_caller(request.app.state.runtime, token, request)
            raw = await request.body()
            lean = _lean(operation, raw)
            if lean is not None:
                call = TransitCall.of(request, caller)
                response = await LEAN_OPERATIONS[operation](call, name, lean, len(raw))
            else:
                model, handler = HANDLERS[operation]
                try:
                    body = model.model_validate_json(raw)
                except ValidationError as exc:
                    response = validation_error_response(exc.errors(), prefix=("body",))
                else:
                    response = await handler(TransitCall.of(request, caller), name, body)
        except ApiError as exc:
            response = error_response(exc.status, exc.code, exc.message, exc.headers)
        except AuditUnavailableError:
            response = audit_unavailable_response()
        await response(scope, receive, send)
