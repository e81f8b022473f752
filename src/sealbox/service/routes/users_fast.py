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

from collections.abc import Sequence

from pydantic import TypeAdapter
from starlette.types import Scope

from sealbox.accounts.core import Caller
from sealbox.integrations.fastapi.bearer import (
    authorization,
    bearer_token,
    identity_thumbprint,
)
from sealbox.integrations.fastapi.client_cert import scope_client_identity
from sealbox.integrations.fastapi.router import Me, user_caller
from sealbox.service.deps import caller_now, checked_caller
from sealbox.service.errors import lean_refusal
from sealbox.service.middleware import (
    Header,
    security_headers,
)
from sealbox.service.routes.users import ME_PATH
from sealbox.service.runtime import Runtime
from sealbox.tls.server_session import ClientIdentity

__all__ = ["UsersMeFastPath"]


# The route's serializer: FastAPI dumps a response model with its TypeAdapter.
_ME = TypeAdapter(Me)
_CONTENT_TYPE = (b"content-type", b"application/json")
_FRAMING = (b"content-length", b"transfer-encoding")
# Tokens whose answer is kept; past this many, the kept answers are dropped and built again.
_KEPT_BODIES = 4096
# The security headers of this path, over TLS and not (the middleware's, worked out once).
_EXTRA_TLS = security_headers({"path": ME_PATH, "scheme": "https"})
_EXTRA_PLAIN = security_headers({"path": ME_PATH, "scheme": "http"})
# What is kept of a token's answer: the caller, the client certificate and the security
# headers it was built for, then its headers and body.
_Answer = tuple[Caller, ClientIdentity | None, tuple[Header, ...], tuple[Header, ...], bytes]
#: An answer to send: status, headers, body.
Reply = tuple[int, Sequence[Header], bytes]


class UsersMeFastPath:
    """Answer ``GET /users/me`` as the route does, without FastAPI's per-request layers.

    The body depends only on the caller and the client certificate, so the last one of
    each token is kept (with both) and written again while they stay the same; the
    token is still authenticated, revocation included, on every request.
    """

    __slots__ = ("_answers",)

    def __init__(self) -> None:
        self._answers: dict[str, _Answer] = {}

    @staticmethod
    def takes(scope: Scope) -> bool:
        """Whether this entry answers ``scope`` (else the application does)."""
        if not (
            scope["type"] == "http"
            and scope["path"] == ME_PATH
            and scope["method"] == "GET"
            and not scope.get("root_path")
        ):
            return False
        for name, _ in scope["headers"]:  # noqa: SIM110 - no generator on every request
            if name in _FRAMING:
                return False
        return True

    def reply_now(self, runtime: Runtime, scope: Scope) -> Reply | None:
        """The answer to ``scope`` (one :meth:`takes`) with the worker's ``runtime``, or
        ``None`` when it needs a wait (revocation lists in Redis, or being read): then await
        :meth:`reply`. Not a coroutine: here one is a share of the request worth saving."""
        extra = _EXTRA_TLS if scope.get("scheme") == "https" else _EXTRA_PLAIN
        try:
            # In the route's order: the header, then the accounts, then the token.
            token = bearer_token(authorization(scope))
            identity = scope_client_identity(scope)
            caller = caller_now(runtime.accounts, token, identity_thumbprint(identity))
            if caller is None:
                return None
            return self._reply(token, caller, identity, extra)
        except Exception as exc:  # noqa: BLE001 - answered as the routes and middlewares do
            return lean_refusal(scope, exc, extra)

    async def reply(self, runtime: Runtime, scope: Scope) -> Reply:
        """:meth:`reply_now`'s answer, waiting for the revocation lists."""
        extra = _EXTRA_TLS if scope.get("scheme") == "https" else _EXTRA_PLAIN
        try:
            token = bearer_token(authorization(scope))
            identity = scope_client_identity(scope)
            caller = await checked_caller(runtime.accounts, token, identity_thumbprint(identity))
            return self._reply(token, caller, identity, extra)
        except Exception as exc:  # noqa: BLE001 - answered as the routes and middlewares do
            return lean_refusal(scope, exc, extra)

    def _reply(
        self, token: str, caller: Caller, identity: ClientIdentity | None, extra: tuple[Header, ...]
    ) -> Reply:
        if caller.client_id is not None:
            user_caller(caller)  # refuses it
        held = self._answers.get(token)
        if held is None or held[0] is not caller or held[1] != identity or held[2] is not extra:
            held = self._keep(token, caller, identity, extra)
        return 200, held[3], held[4]

    def _keep(
        self,
        token: str,
        caller: Caller,
        identity: ClientIdentity | None,
        extra: tuple[Header, ...],
    ) -> _Answer:
        """The answer to ``token``'s caller, built and kept for the requests that follow."""
        body = _ME.dump_json(
            Me(
                id=caller.user_id,
                username=caller.username,
                scopes=sorted(caller.scopes),
                expires_at=int(caller.expires),
                client_certificate=identity.to_dict() if identity else None,
            )
        )
        # A Response's two headers, then the security headers (none repeats them).
        headers = ((b"content-length", str(len(body)).encode()), _CONTENT_TYPE, *extra)
        if len(self._answers) >= _KEPT_BODIES:
            self._answers.clear()
        answer = (caller, identity, extra, headers, body)
        self._answers[token] = answer
        return answer
