"""The route class of the auth router's JSON routes: a body that is not JSON, or that gives
a member twice, is refused.

A body whose ``Content-Type`` is not ``application/json`` (or ``application/…+json``) is
answered 415 ``unsupported_media_type`` before it is read: FastAPI would read it as bytes
and answer a 422 about the body's shape, which tells the client nothing about what to
change (``sealbox serve`` answers it so for all its JSON routes, in a middleware).

Python's ``json`` (and so FastAPI) reads ``{"username": "a", "username": "b"}`` as its last
value, where another reader of the same bytes — a proxy or filter in front of the app —
may take the first: the two would act on different requests. :class:`StrictJSONRoute`
(FastAPI's documented ``APIRoute`` extension point) reads the body's JSON with every
object's members unique; a member given twice is FastAPI's 422 ``json_invalid``, as any
body that is not JSON.

Its validation errors are answered by the route itself, sealbox's 422 ``validation_error``
(where and what, never the value): FastAPI's own answer, and an app's handler that
repeats ``exc.errors()``, would echo the value sent, a password or a refresh token.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Final

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from sealbox._util.json_objects import DuplicateMemberError, unique_members
from sealbox.integrations.fastapi.errors import ApiError, ErrorCode, validation_error_response

__all__ = [
    "JSON_ONLY",
    "StrictJSONRoute",
    "is_json_media_type",
    "is_non_json_body",
    "refuse_non_json",
]

_JSON: Final = b"application/json"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
#: The message of the 415 answered to a body that is not JSON.
JSON_ONLY: Final = "this endpoint takes application/json"


def is_json_media_type(value: bytes | None) -> bool:
    """Whether a ``Content-Type`` value is ``application/json`` or ``application/…+json``,
    the types FastAPI reads as JSON (parameters such as ``charset`` aside)."""
    if value is None:
        return False
    if value == _JSON:
        return True
    media = value.split(b";", 1)[0].strip().lower()
    return media == _JSON or (media.startswith(b"application/") and media.endswith(b"+json"))


def is_non_json_body(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request's ASGI ``headers`` announce a body whose type is not JSON; a
    request without a body is not one (FastAPI then answers what is missing)."""
    media: bytes | None = None
    body = False
    for name, value in headers:
        if name == b"content-type":
            if media is None:  # the first, as FastAPI reads it
                media = value
        elif name == b"content-length":
            body = body or value != b"0"
        elif name == b"transfer-encoding":
            body = True
    return body and not is_json_media_type(media)


def refuse_non_json(request: Request) -> None:
    """Refuse a body whose type is not JSON (:func:`is_non_json_body`).

    Raises:
        ApiError: 415 ``unsupported_media_type``.
    """
    if is_non_json_body(request.scope["headers"]):
        raise ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, JSON_ONLY)


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, object_pairs_hook=unique_members)
            except DuplicateMemberError as exc:
                # FastAPI answers a JSONDecodeError as the body's 422 (json_invalid).
                text = body.decode("utf-8", "replace")
                raise json.JSONDecodeError(
                    f"the member {exc.name[:40]!r} is given twice", text, 0
                ) from None
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose body must be JSON (:func:`refuse_non_json`) and may not give an
    object's member twice, and whose validation errors never show the value sent
    (:meth:`invalid`)."""

    #: Whether the route's body is JSON (a subclass for a form sets ``False``).
    takes_json: bool = True

    def invalid(self, exc: RequestValidationError) -> Response:
        """The answer to a request that failed validation: 422 ``validation_error``.

        The route's own, whatever handlers the app has: the routes take passwords and
        refresh tokens, which FastAPI's answer would repeat as the error's ``input``.
        """
        return validation_error_response(exc.errors())

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if self.takes_json and request.method in _BODY_METHODS:
                refuse_non_json(request)
            try:
                return await handler(_StrictJSONRequest(request.scope, request.receive))
            except RequestValidationError as exc:
                return self.invalid(exc)

        return route
