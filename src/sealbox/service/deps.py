"""FastAPI dependencies: the runtime, the caller's verified token, scopes, the client certificate.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from sealbox.accounts.binding import check_binding_thumbprint, thumbprint_from_digest
from sealbox.accounts.grants import is_client_token
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
    "UserCallerDep",
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
    """Who is calling, from a verified, unrevoked access token.

    A machine client's token (client credentials) has no account behind it:
    ``client_id`` is set, ``user_id`` is 0 and ``username`` is the client id.
    """

    user_id: int
    username: str
    scopes: frozenset[str]
    jti: str
    expires: float
    claims: dict[str, Any]
    client_id: str | None = None


class _BearerCaller(OAuth2PasswordBearer):
    """The OAuth2 password-flow scheme (for OpenAPI's Authorize) that also resolves the caller.

    One dependency instead of a chain: FastAPI's per-dependency cost is a large
    part of a small request, and every authenticated route pays it.
    """

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        token = bearer_token(request.headers.get("authorization") or "")
        return await resolve_caller(request.app.state.runtime, token, client_identity(request))


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


async def resolve_caller(
    runtime: Runtime, token: str, certificate: ClientIdentity | None = None
) -> Caller:
    """Verify an access token (the signature check is cached per token), then check revocation
    and, for a certificate-bound token (RFC 8705 §3), the connection's ``certificate``."""
    now = time.time()
    claims = runtime.token_cache.get(token, now)
    if claims is None:
        try:
            claims = runtime.verifier.verify(token, now=now)
        except SealboxError:
            raise _invalid() from None
        user = isinstance(claims.get("uid"), int)
        if not (user or is_client_token(claims)) or not isinstance(claims.get("jti"), str):
            raise _invalid()
        runtime.token_cache.put(token, claims)
    elif claims.get("nbf", 0) > now + 5:
        raise _invalid()
    if "cnf" in claims:
        thumbprint = (
            thumbprint_from_digest(bytes.fromhex(certificate.fingerprint)) if certificate else None
        )
        try:
            check_binding_thumbprint(claims, thumbprint)
        except SealboxError:
            raise _invalid("the access token is bound to another client certificate") from None
    uid = claims.get("uid")
    family = claims.get("sid")
    if await runtime.revocations.is_refused(
        claims["jti"],
        uid if isinstance(uid, int) else 0,
        claims.get("sv", 0),
        family if isinstance(family, str) else None,
    ):
        raise _invalid("the access token was revoked")
    scope = claims.get("scope", "")
    return Caller(
        user_id=uid if isinstance(uid, int) else 0,
        username=claims["sub"],
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        jti=claims["jti"],
        expires=float(claims["exp"]),
        claims=claims,
        client_id=None if isinstance(uid, int) else claims["client_id"],
    )


current_caller = _BearerCaller(tokenUrl="/auth/token")
CallerDep = Annotated[Caller, Depends(current_caller)]


async def _user_caller(caller: CallerDep) -> Caller:
    if caller.client_id is not None:
        raise ApiError(
            403,
            ErrorCode.USER_TOKEN_REQUIRED,
            "this route needs a user's access token; a client's token has no account",
        )
    return caller


#: The caller, refused (403 ``user_token_required``) when it is a machine client.
UserCallerDep = Annotated[Caller, Depends(_user_caller)]


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
