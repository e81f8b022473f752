"""The route class of the auth router's JSON routes: a body giving a member twice is refused.

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
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from sealbox._util.json_objects import DuplicateMemberError, unique_members
from sealbox.integrations.fastapi.errors import validation_error_response

__all__ = ["StrictJSONRoute"]


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
    """A route whose JSON body may not give an object's member twice, and whose validation
    errors never show the value sent (:meth:`invalid`)."""

    def invalid(self, exc: RequestValidationError) -> Response:
        """The answer to a request that failed validation: 422 ``validation_error``.

        The route's own, whatever handlers the app has: the routes take passwords and
        refresh tokens, which FastAPI's answer would repeat as the error's ``input``.
        """
        return validation_error_response(exc.errors())

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(_StrictJSONRequest(request.scope, request.receive))
            except RequestValidationError as exc:
                return self.invalid(exc)

        return route
