"""FastAPI dependencies of the service: the runtime, the caller, scopes, the client certificate.

The bearer dependency, the scope check and the client certificate are the library's
(:mod:`sealbox.integrations.fastapi`), given the worker's :class:`Runtime`'s accounts.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from sealbox.accounts import Accounts, Caller
from sealbox.exceptions import TokenError
from sealbox.integrations.fastapi import (
    accounts_bearer,
    bearer_token,
    client_identity,
    connection_thumbprint,
    optional_client_certificate,
    user_caller,
)
from sealbox.integrations.fastapi.bearer import insufficient_scope, missing_scopes, token_refused
from sealbox.integrations.fastapi.errors import ApiError, ErrorCode
from sealbox.service.runtime import Runtime
from sealbox.tls.server_session import ClientIdentity

__all__ = [
    "Caller",
    "CallerDep",
    "ClientIdentityDep",
    "RuntimeDep",
    "UserCallerDep",
    "bearer_token",
    "caller_now",
    "checked_caller",
    "client_identity",
    "current_caller",
    "get_runtime",
    "require_scopes",
    "resolve_caller",
    "runtime_accounts",
]


def caller_now(accounts: Accounts, token: str, thumbprint: str | None) -> Caller | None:
    """The caller of ``token``, checked as the bearer dependency checks it, for the lean
    entries ahead of FastAPI; ``None`` when the answer needs a wait (the revocation lists
    are being read, or are in Redis): then await :func:`checked_caller`.

    Raises:
        ApiError: the 401 ``invalid_token`` of a refused token.
    """
    try:
        return accounts.authenticate_now(token, thumbprint=thumbprint)
    except TokenError as exc:
        raise token_refused(exc) from None


async def checked_caller(accounts: Accounts, token: str, thumbprint: str | None) -> Caller:
    """:func:`caller_now`, waiting for the revocation lists when it must.

    Raises:
        ApiError: the 401 ``invalid_token`` of a refused token.
    """
    caller = caller_now(accounts, token, thumbprint)
    if caller is None:
        try:
            caller = await accounts.authenticate(token, thumbprint=thumbprint)
        except TokenError as exc:
            raise token_refused(exc) from None
    return caller


async def get_runtime(request: Request) -> Runtime:
    """The worker's :class:`Runtime` (set up in the app's lifespan)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def runtime_accounts(request: Request) -> Accounts:
    """The worker's accounts (what the library's routes and bearer dependency use)."""
    runtime: Runtime = request.app.state.runtime
    return runtime.accounts


async def resolve_caller(runtime: Runtime, token: str, request: Request | None = None) -> Caller:
    """Verify an access token (the signature check is cached per token), then check revocation
    and, for a certificate-bound token (RFC 8705 §3), the client certificate of the
    ``request``'s connection.

    Raises:
        ApiError: 401 ``invalid_token``.
    """
    thumbprint = connection_thumbprint(request) if request is not None else None
    try:
        return await runtime.accounts.authenticate(token, thumbprint=thumbprint)
    except TokenError as exc:
        raise token_refused(exc) from None


# The security scheme keeps the name the service's OpenAPI document has always given it.
current_caller = accounts_bearer(runtime_accounts, scheme_name="_BearerCaller")
# Through require() (no scope): its dependency takes no SecurityScopes, which FastAPI would
# build on every request for the bearer itself. The service puts no Security with scopes
# around a dependency that takes the caller: require_scopes checks them.
CallerDep = Annotated[Caller, current_caller.require()]


async def _user_caller(caller: CallerDep) -> Caller:
    return user_caller(caller)


#: The caller, refused (403 ``user_token_required``) when it is a machine client.
UserCallerDep = Annotated[Caller, Depends(_user_caller)]


def require_scopes(*needed: str) -> Any:
    """A dependency that lets only callers holding every scope in ``needed`` through."""
    scopes = tuple(needed)

    async def check(caller: CallerDep) -> Caller:
        missing = missing_scopes(caller, scopes)
        if missing:
            raise insufficient_scope(scopes, missing)
        return caller

    return Depends(check)


async def held_scopes(runtime: Runtime, caller: Caller) -> frozenset[str]:
    """The caller's token scopes that its account (or client) still holds.

    A token keeps its scopes until it expires; for an administrator's scope that is too
    long: one whose ``users:admin`` was taken back could grant it to its own account again
    with the token, or register a client holding it. A disabled or deleted account's
    tokens are refused before this.
    """
    if caller.client_id is None:
        user = await runtime.store.token_account(caller.user_id, caller.username)
        return frozenset() if user is None else caller.scopes & frozenset(user.scopes)
    client = await runtime.clients.by_client_id(caller.client_id)
    return frozenset() if client is None else caller.scopes & frozenset(client.scopes)


def require_held_scopes(*needed: str) -> Any:
    """:func:`require_scopes`, then each of ``needed`` still held by the caller's account
    or client (:func:`held_scopes`, one database read): for administrators' scopes."""
    scopes = tuple(needed)

    async def check(runtime: RuntimeDep, caller: CallerDep) -> Caller:
        missing = missing_scopes(caller, scopes)
        if missing:
            raise insufficient_scope(scopes, missing)
        held = await held_scopes(runtime, caller)
        lost = [s for s in scopes if s not in held]
        if lost:
            holder = "account" if caller.client_id is None else "client"
            raise ApiError(
                403,
                ErrorCode.INSUFFICIENT_SCOPE,
                f"the {holder} no longer holds the scope {' '.join(lost)}",
                headers=insufficient_scope(scopes, lost).headers,
            )
        return caller

    return Depends(check)


ClientIdentityDep = Annotated[ClientIdentity | None, Depends(optional_client_certificate)]
