"""FastAPI dependencies: the runtime, the caller's verified token, scopes, the client certificate.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from sealbox.exceptions import SealboxError
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.runtime import Runtime
from sealbox.service.tls_setup import PEER_STATE_KEY
from sealbox.tls.server_session import ClientIdentity

__all__ = [
    "Caller",
    "CallerDep",
    "ClientIdentityDep",
    "RuntimeDep",
    "bearer_token",
    "client_identity",
    "get_runtime",
    "require_scopes",
    "resolve_caller",
]

_BEARER_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _invalid(message: str = "the access token is not valid") -> ApiError:
    return ApiError(401, ErrorCode.INVALID_TOKEN, message, headers=_BEARER_INVALID)


async def get_runtime(request: Request) -> Runtime:
    """The worker's :class:`Runtime` (set up in the app's lifespan)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, from a verified, unrevoked access token."""

    user_id: int
    username: str
    scopes: frozenset[str]
    jti: str
    expires: float
    claims: dict[str, Any]


class _BearerCaller(OAuth2PasswordBearer):
    """The OAuth2 password-flow scheme (for OpenAPI's Authorize) that also resolves the caller.

    One dependency instead of a chain: FastAPI's per-dependency cost is a large
    part of a small request, and every authenticated route pays it.
    """

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        token = bearer_token(request.headers.get("authorization") or "")
        return await resolve_caller(request.app.state.runtime, token)


# Older FastAPI (0.115) resolves a callable object's string annotations without any
# globals, and would read `request` as a query parameter: give it the real types.
_BearerCaller.__call__.__annotations__ = {"request": Request, "return": Caller}


def bearer_token(header: str) -> str:
    """The token of an ``Authorization: Bearer …`` header value.

    Raises:
        ApiError: 401 ``not_authenticated`` when there is none.
    """
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            ErrorCode.NOT_AUTHENTICATED,
            "a bearer access token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


async def resolve_caller(runtime: Runtime, token: str) -> Caller:
    """Verify an access token (the signature check is cached per token), then check revocation."""
    now = time.time()
    claims = runtime.token_cache.get(token, now)
    if claims is None:
        try:
            claims = runtime.verifier.verify(token, now=now)
        except SealboxError:
            raise _invalid() from None
        if not isinstance(claims.get("uid"), int) or not isinstance(claims.get("jti"), str):
            raise _invalid()
        runtime.token_cache.put(token, claims)
    elif claims.get("nbf", 0) > now + 5:
        raise _invalid()
    family = claims.get("sid")
    if await runtime.revocations.is_refused(
        claims["jti"],
        claims["uid"],
        claims.get("sv", 0),
        family if isinstance(family, str) else None,
    ):
        raise _invalid("the access token was revoked")
    scope = claims.get("scope", "")
    return Caller(
        user_id=claims["uid"],
        username=claims["sub"],
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        jti=claims["jti"],
        expires=float(claims["exp"]),
        claims=claims,
    )


current_caller = _BearerCaller(tokenUrl="/auth/token")
CallerDep = Annotated[Caller, Depends(current_caller)]


def require_scopes(*needed: str) -> Any:
    """A dependency that lets only callers holding every scope in ``needed`` through."""

    async def check(caller: CallerDep) -> Caller:
        missing = [s for s in needed if s not in caller.scopes]
        if missing:
            challenge = f'Bearer error="insufficient_scope", scope="{" ".join(needed)}"'
            raise ApiError(
                403,
                ErrorCode.INSUFFICIENT_SCOPE,
                f"this needs the scope {' '.join(missing)}",
                headers={"WWW-Authenticate": challenge},
            )
        return caller

    return Depends(check)


def client_identity(request: Request) -> ClientIdentity | None:
    """The verified client certificate of this connection (mTLS), or ``None``."""
    state = request.scope.get("state") or {}
    identity = state.get(PEER_STATE_KEY)
    return identity if isinstance(identity, ClientIdentity) else None


async def _client_identity_dep(request: Request) -> ClientIdentity | None:
    return client_identity(request)


ClientIdentityDep = Annotated[ClientIdentity | None, Depends(_client_identity_dep)]
