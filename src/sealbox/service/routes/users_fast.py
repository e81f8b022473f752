"""A lean ASGI entry for ``GET /users/me``, answered before any middleware or routing.

``/users/me`` is the cheapest guarded answer the service gives: a cached signature
check, a revocation lookup in memory, a few fields of the token. Through FastAPI,
the framework's work around it costs several times that: Starlette's error and
exception layers, the service's pure-ASGI middlewares (each wrapping ``send``),
matching the path against every route, solving the bearer and accounts
dependencies, validating the returned model against the response model. This
entry answers the request itself, with the same pieces the route uses (the bearer
header parsing, :meth:`Accounts.authenticate <sealbox.accounts.core.Accounts.authenticate>`,
the same refusals, the :class:`~sealbox.integrations.fastapi.router.Me` model and its
JSON serializer), and adds the security headers and the internal-error answer the
middlewares would have added: the status, headers and body are those of the route,
for every outcome.

It takes only what it can answer exactly as the route would: ``GET`` of the path
itself (no ``root_path``), with no body framing (``Content-Length`` or
``Transfer-Encoding``, which the body-limit middleware judges). Everything else, the
OpenAPI document included, goes to the FastAPI application unchanged.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from starlette.datastructures import State
from starlette.types import Scope, Send

from sealbox.accounts.core import Caller
from sealbox.exceptions import TokenError
from sealbox.integrations.fastapi.bearer import (
    authorization,
    bearer_token,
    identity_thumbprint,
    token_refused,
)
from sealbox.integrations.fastapi.client_cert import scope_client_identity
from sealbox.integrations.fastapi.router import Me, user_caller
from sealbox.service.audit import AuditUnavailableError
from sealbox.service.errors import ApiError, audit_unavailable_response, error_response
from sealbox.service.middleware import (
    INTERNAL_ERROR_BODY,
    INTERNAL_ERROR_HEADERS,
    Header,
    log_unhandled,
    security_headers,
    with_security_headers,
)
from sealbox.service.routes.users import ME_PATH
from sealbox.service.runtime import Runtime
from sealbox.tls.server_session import ClientIdentity

__all__ = ["UsersMeFastPath"]


# The route's serializer: FastAPI dumps a response model with its TypeAdapter.
_ME = TypeAdapter(Me)
_CONTENT_TYPE = (b"content-type", b"application/json")
_FRAMING = (b"content-length", b"transfer-encoding")
# Tokens whose body is kept; past this many, the kept bodies are dropped and built again.
_KEPT_BODIES = 4096


class UsersMeFastPath:
    """Answer ``GET /users/me`` as the route does, without FastAPI's per-request layers.

    The body depends only on the caller and the client certificate, so the last one of
    each token is kept (with both) and written again while they stay the same; the
    token is still authenticated, revocation included, on every request.
    """

    __slots__ = ("_bodies",)

    def __init__(self) -> None:
        self._bodies: dict[str, tuple[Caller, ClientIdentity | None, bytes]] = {}

    @staticmethod
    def takes(scope: Scope) -> bool:
        """Whether this entry answers ``scope`` (else the application does)."""
        return (
            scope["type"] == "http"
            and scope["path"] == ME_PATH
            and scope["method"] == "GET"
            and not scope.get("root_path")
            and all(name not in _FRAMING for name, _ in scope["headers"])
        )

    async def __call__(self, state: State, scope: Scope, send: Send) -> None:
        """Answer ``scope`` (one :meth:`takes`); ``state`` is the application's (its runtime)."""
        extra = security_headers(scope)
        try:
            body = await self._answer(state, scope)
        except ApiError as exc:
            status, headers, body = _error(
                error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)
            )
        except AuditUnavailableError:
            status, headers, body = _error(audit_unavailable_response())
        except Exception as exc:  # noqa: BLE001 - answered as InternalErrorMiddleware does
            # Its 500, with the security headers: that middleware sits inside them.
            log_unhandled(scope, exc)
            status, headers, body = 500, list(INTERNAL_ERROR_HEADERS), INTERNAL_ERROR_BODY
        else:
            # A Response's two headers, then the security headers (none repeats them).
            status = 200
            headers = [(b"content-length", str(len(body)).encode()), _CONTENT_TYPE, *extra]
        if status != 200:
            headers = with_security_headers(headers, extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, state: State, scope: Scope) -> bytes:
        """The body of the answer to ``scope``, or the refusal as an :class:`ApiError`."""
        # In the route's order: the header, then the accounts, then the token.
        token = bearer_token(authorization(scope))
        runtime: Runtime = state.runtime
        identity = scope_client_identity(scope)
        try:
            caller = await runtime.accounts.authenticate(
                token, thumbprint=identity_thumbprint(identity)
            )
        except TokenError as exc:
            raise token_refused(exc) from None
        user_caller(caller)
        held = self._bodies.get(token)
        if held is not None and held[0] is caller and held[1] == identity:
            return held[2]
        body = _ME.dump_json(
            Me(
                id=caller.user_id,
                username=caller.username,
                scopes=sorted(caller.scopes),
                expires_at=int(caller.expires),
                client_certificate=identity.to_dict() if identity else None,
            )
        )
        if len(self._bodies) >= _KEPT_BODIES:
            self._bodies.clear()
        self._bodies[token] = (caller, identity, body)
        return body


def _error(response: Any) -> tuple[int, list[Header], bytes]:
    return int(response.status_code), list(response.raw_headers), bytes(response.body)
