"""``/auth/…``: register, log in (OAuth2 password flow), refresh, log out, change password.

Login defence:

- failures are counted per username and per client address; past the limit the
  answer is 429 with ``Retry-After``, before any password is checked;
- an unknown user and a wrong password get the same status, body and timing: the
  unknown user's password is checked against a dummy hash with the same cost;
- every attempt is written to the audit log (never the password or a token).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from sealbox.exceptions import PasswordMismatchError, SealboxError
from sealbox.service.db import User
from sealbox.service.deps import CallerDep, RuntimeDep
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.runtime import Runtime
from sealbox.service.store import UsernameTakenError

__all__ = ["DEFAULT_SCOPES", "check_new_password", "check_username", "router"]

DEFAULT_SCOPES = ("users:me",)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_USERNAME = 150


class Credentials(BaseModel):
    """A new account."""

    username: str = Field(min_length=1, max_length=MAX_USERNAME, examples=["alice"])
    password: str = Field(min_length=1, max_length=4 * MAX_PASSWORD, examples=["correct horse"])


class TokenResponse(BaseModel):
    """An access token and the refresh token to get the next one."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str
    scope: str


class RefreshRequest(BaseModel):
    """A refresh token to exchange (or revoke)."""

    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordChange(BaseModel):
    """The current password and the new one."""

    current_password: str = Field(min_length=1, max_length=4 * MAX_PASSWORD)
    new_password: str = Field(min_length=1, max_length=4 * MAX_PASSWORD)


class UserOut(BaseModel):
    """An account as the API shows it."""

    id: int
    username: str
    scopes: list[str]


def check_username(username: str) -> str:
    """Refuse names with control characters or only whitespace; keep everything else as given."""
    if not username.strip() or any(unicodedata.category(c) == "Cc" for c in username):
        raise ApiError(
            422,
            ErrorCode.VALIDATION_ERROR,
            "the username may not be blank or contain control characters",
        )
    return username


def check_new_password(password: str, username: str) -> None:
    """8 to 1024 characters after NFKC normalisation, and not the username."""
    normalized = unicodedata.normalize("NFKC", password)
    if not MIN_PASSWORD <= len(normalized) <= MAX_PASSWORD:
        raise ApiError(
            422,
            ErrorCode.WEAK_PASSWORD,
            f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters",
        )
    if normalized.casefold() == unicodedata.normalize("NFKC", username).casefold():
        raise ApiError(422, ErrorCode.WEAK_PASSWORD, "the password may not be the username")


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _grant_error(message: str = "invalid username or password") -> ApiError:
    # RFC 6749 section 5.2: a failed grant is 400 invalid_grant.
    return ApiError(400, ErrorCode.INVALID_GRANT, message)


def _token_response(
    runtime: Runtime, user: User, scopes: list[str], refresh_token: str
) -> TokenResponse:
    """An access token for ``user`` (``uid`` and session version ``sv`` as claims)."""
    settings = runtime.settings
    access = runtime.keyset.issue(
        user.username,
        audience=settings.audience,
        issuer=settings.issuer,
        ttl=settings.access_token_ttl,
        scope=scopes,
        claims={"uid": user.id, "sv": user.session_version},
    )
    return TokenResponse(
        access_token=access,
        expires_in=settings.access_token_ttl,
        refresh_token=refresh_token,
        scope=" ".join(scopes),
    )


async def _throttled(runtime: Runtime, username: str, address: str) -> int:
    s = runtime.settings
    return max(
        await runtime.throttle.retry_after(f"user:{username}", s.throttle_user_attempts),
        await runtime.throttle.retry_after(f"addr:{address}", s.throttle_address_attempts),
    )


async def _record_failure(runtime: Runtime, username: str, address: str) -> None:
    window = runtime.settings.throttle_window
    await runtime.throttle.failure(f"user:{username}", window)
    await runtime.throttle.failure(f"addr:{address}", window)


async def _check_password(runtime: Runtime, user: User | None, password: str) -> bool:
    """Verify off the event loop; upgrade the stored hash when it is due."""
    hasher = runtime.hasher
    if user is None:
        # Same work as a real check, same answer: no oracle for unknown names.
        with contextlib.suppress(SealboxError):
            await runtime.run_hasher(hasher.verify_dummy, password)
        return False
    try:
        check = await runtime.run_hasher(hasher.verify, user.password_hash, password)
    except PasswordMismatchError:
        return False
    except SealboxError:
        # An unusable stored hash: refuse the login, say nothing more to the client.
        return False
    if check.needs_rehash:
        new_hash = await runtime.run_hasher(hasher.hash, password)
        await runtime.store.set_password_hash(user.id, new_hash)
        runtime.audit.record("rehash", outcome="success", user=user.username, detail=check.scheme)
    return True


async def register(body: Credentials, request: Request, runtime: RuntimeDep) -> UserOut:
    """Create an account (username 1-150 characters, password 8-1024)."""
    address = _address(request)
    if not runtime.settings.open_registration:
        raise ApiError(403, ErrorCode.REGISTRATION_CLOSED, "registration is closed")
    username = check_username(body.username)
    check_new_password(body.password, username)
    password_hash = await runtime.run_hasher(runtime.hasher.hash, body.password)
    try:
        user = await runtime.store.create_user(username, password_hash, list(DEFAULT_SCOPES))
    except UsernameTakenError:
        runtime.audit.record("register", outcome="taken", user=username, address=address)
        raise ApiError(409, ErrorCode.USERNAME_TAKEN, "this username is taken") from None
    runtime.audit.record("register", outcome="success", user=username, address=address)
    return UserOut(id=user.id, username=user.username, scopes=user.scopes)


async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    runtime: RuntimeDep,
) -> TokenResponse:
    """Log in with the OAuth2 password flow; answers an access and a refresh token."""
    address = _address(request)
    username = form.username
    wait = await _throttled(runtime, username, address)
    if wait:
        runtime.audit.record("login", outcome="throttled", user=username, address=address)
        raise ApiError(
            429,
            ErrorCode.TOO_MANY_REQUESTS,
            "too many failed attempts; try again later",
            headers={"Retry-After": str(wait)},
        )
    if len(form.password) > 4 * MAX_PASSWORD:
        raise _grant_error()
    user = await runtime.store.user_by_name(username)
    if not await _check_password(runtime, user, form.password) or user is None:
        await _record_failure(runtime, username, address)
        runtime.audit.record("login", outcome="failure", user=username, address=address)
        raise _grant_error()
    await runtime.throttle.reset(f"user:{username}")
    granted = list(user.scopes)
    if form.scopes:
        granted = [s for s in form.scopes if s in user.scopes]
    runtime.audit.record("login", outcome="success", user=username, address=address)
    refresh_token, _ = await runtime.store.issue_refresh(user.id)
    return _token_response(runtime, user, granted, refresh_token)


async def refresh(body: RefreshRequest, request: Request, runtime: RuntimeDep) -> TokenResponse:
    """Exchange a refresh token for new tokens. A refresh token works once:
    presenting a used one revokes every token of its family."""
    address = _address(request)
    outcome = await runtime.store.use_refresh(body.refresh_token)
    if outcome.status == "reused":
        runtime.audit.record(
            "refresh", outcome="reuse_detected", address=address, detail="family revoked"
        )
        raise _grant_error("the refresh token is not valid")
    if outcome.status != "ok" or outcome.user is None or outcome.token is None:
        runtime.audit.record("refresh", outcome="failure", address=address)
        raise _grant_error("the refresh token is not valid")
    user = outcome.user
    runtime.audit.record("refresh", outcome="success", user=user.username, address=address)
    return _token_response(runtime, user, list(user.scopes), outcome.token)


async def logout(
    body: RefreshRequest, request: Request, caller: CallerDep, runtime: RuntimeDep
) -> Response:
    """Revoke the refresh token's family and this access token."""
    await runtime.store.revoke_family_of(body.refresh_token, caller.user_id)
    await runtime.revocations.revoke(caller.jti, datetime.fromtimestamp(caller.expires, UTC))
    runtime.audit.record(
        "logout", outcome="success", user=caller.username, address=_address(request)
    )
    return Response(status_code=204)


async def change_password(
    body: PasswordChange, request: Request, caller: CallerDep, runtime: RuntimeDep
) -> Response:
    """Change the password; every session of the user ends (tokens included)."""
    address = _address(request)
    wait = await _throttled(runtime, caller.username, address)
    if wait:
        raise ApiError(
            429,
            ErrorCode.TOO_MANY_REQUESTS,
            "too many failed attempts; try again later",
            headers={"Retry-After": str(wait)},
        )
    user = await runtime.store.user_by_id(caller.user_id)
    if user is None or not await _check_password(runtime, user, body.current_password):
        await _record_failure(runtime, caller.username, address)
        runtime.audit.record(
            "password_change", outcome="failure", user=caller.username, address=address
        )
        raise ApiError(403, ErrorCode.INVALID_CREDENTIALS, "the current password is wrong")
    check_new_password(body.new_password, user.username)
    new_hash = await runtime.run_hasher(runtime.hasher.hash, body.new_password)
    version = await runtime.store.change_password(user.id, new_hash)
    await runtime.revocations.end_sessions(user.id, version)
    runtime.audit.record("password_change", outcome="success", user=user.username, address=address)
    return Response(status_code=204)


def router() -> APIRouter:
    """The ``/auth`` routes."""
    api = APIRouter(prefix="/auth", tags=["auth"])
    api.add_api_route(
        "/register", register, methods=["POST"], status_code=201, response_model=UserOut
    )
    api.add_api_route("/token", token, methods=["POST"], response_model=TokenResponse)
    api.add_api_route("/refresh", refresh, methods=["POST"], response_model=TokenResponse)
    api.add_api_route("/logout", logout, methods=["POST"], status_code=204)
    api.add_api_route("/password", change_password, methods=["POST"], status_code=204)
    return api
