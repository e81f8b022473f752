"""The route class of the transit operations: a body the request model refuses is audited.

FastAPI reads and checks a route's body before its handler runs, so a body the model
refuses (422 ``validation_error``) never reaches :class:`TransitCall`'s audit. This
route class (FastAPI's documented ``APIRoute`` extension point) writes that call's
record on the refusal's way out: the caller is authenticated again (a refusal is rare,
and the dependency that did it first is FastAPI's, out of reach), and a request
without a valid token writes none, as everywhere in transit.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from sealbox.integrations.fastapi.bearer import authorization, bearer_token, connection_thumbprint
from sealbox.service.deps import checked_caller
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.routes.transit_call import TransitCall
from sealbox.service.runtime import Runtime
from sealbox.transit.registry import is_key_name

__all__ = ["AuditedOperationRoute", "audit_refused_body"]


class AuditedOperationRoute(APIRoute):
    """A transit operation's route (``…/{name}/<operation>``): a 422 is audited."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        operation = self.path.rsplit("/", 1)[-1]

        async def audited(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError:
                await audit_refused_body(request, operation)
                raise

        return audited


async def audit_refused_body(request: Request, operation: str) -> None:
    """Write the record of ``operation``'s call whose body was refused, when its caller
    is known: a valid token, on a key name the routes take."""
    name = request.path_params.get("name")
    if not isinstance(name, str) or not is_key_name(name):
        return
    runtime: Runtime = request.app.state.runtime
    try:
        token = bearer_token(authorization(request.scope))
        caller = await checked_caller(runtime.accounts, token, connection_thumbprint(request))
    except ApiError:
        return
    TransitCall.of(request, caller).refused(operation, name, ErrorCode.VALIDATION_ERROR)
