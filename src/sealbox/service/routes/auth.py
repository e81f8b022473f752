"""``/auth/…``: register, the OAuth 2 token endpoint, refresh, log out, change password.

The routes parse and answer; :mod:`sealbox.service.sessions` decides. Login defence:

- attempts are counted per username and per client address, atomically with the
  check of the limit; past it the answer is 429 with ``Retry-After``, before any
  password is checked;
- an unknown user and a wrong password get the same status, body and timing: the
  unknown user's password is checked against a dummy hash with the same cost;
- every attempt is written to the audit log (never the password or a token).

The token endpoint takes ``grant_type=password`` and ``grant_type=refresh_token``
(RFC 6749 §4.3, §6), and hands ``client_credentials`` (§4.4) to
:mod:`sealbox.service.routes.oauth`; over mutual TLS the access tokens it issues are
bound to the client certificate (RFC 8705 §3). Its errors carry RFC 6749 §5.2's ``error`` and
``error_description`` beside sealbox's ``message``, malformed forms included
(400 ``invalid_request``, not FastAPI's 422).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from sealbox.accounts.store import UsernameTakenError
from sealbox.accounts.totp import TotpError
from sealbox.accounts.usernames import MAX_USERNAME, UsernameError, canonical_username
from sealbox.service import sessions
from sealbox.service.deps import RuntimeDep, UserCallerDep
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.routes import oauth
from sealbox.service.sessions import (
    DEFAULT_SCOPES,
    AccountDisabled,
    IssuedTokens,
    LoginFailed,
    ScopeRefused,
    Throttled,
    check_password,
    throttle_attempt,
)

__all__ = ["DEFAULT_SCOPES", "check_new_password", "check_username", "router"]

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_FORM = "application/x-www-form-urlencoded"


class Credentials(BaseModel):
    """A new account."""

    username: str = Field(min_length=1, max_length=4 * MAX_USERNAME, examples=["alice"])
    password: str = Field(min_length=1, max_length=4 * MAX_PASSWORD, examples=["correct horse"])


class TokenResponse(BaseModel):
    """An access token and the refresh token to get the next one."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str
    scope: str


class RefreshRequest(BaseModel):
    """A refresh token to exchange (or revoke); ``scope`` may narrow the grant."""

    refresh_token: str = Field(min_length=1, max_length=512)
    scope: str | None = Field(default=None, max_length=4096)


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
    """The canonical form of a new username (RFC 8265), or a 422 saying what is wrong."""
    try:
        return canonical_username(username)
    except UsernameError as exc:
        raise ApiError(422, ErrorCode.VALIDATION_ERROR, str(exc)) from None


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


def _token_error(status: int, code: ErrorCode, message: str, **headers: str) -> ApiError:
    # RFC 6749 §5.2: the token endpoint's errors carry error and error_description.
    return ApiError(
        status, code, message, headers=headers or None, extra={"error_description": message}
    )


class TokenEndpointRoute(APIRoute):
    """A route whose malformed requests are RFC 6749 §5.2 ``invalid_request`` (400).

    Which field is wrong and how is said; the value sent (perhaps a password) is not.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'body'}: "
                    f"{str(err.get('msg', '')).lower()}"
                    for err in exc.errors()
                )
                raise _token_error(
                    400, ErrorCode.INVALID_REQUEST, f"the request is not valid: {problems}"
                ) from None

        return route


def _grant_error(message: str = "invalid username or password") -> ApiError:
    return _token_error(400, ErrorCode.INVALID_GRANT, message)


def _too_many(wait: int, *, token_endpoint: bool = False) -> ApiError:
    message = "too many attempts; try again later"
    if token_endpoint:
        return _token_error(429, ErrorCode.TOO_MANY_REQUESTS, message, **{"Retry-After": str(wait)})
    return ApiError(429, ErrorCode.TOO_MANY_REQUESTS, message, headers={"Retry-After": str(wait)})


def _answer(issued: IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        scope=" ".join(issued.scope),
    )


async def register(body: Credentials, request: Request, runtime: RuntimeDep) -> UserOut:
    """Create an account (username per RFC 8265, at most 150 characters; password 8-1024)."""
    address = _address(request)
    if not runtime.settings.open_registration:
        raise ApiError(403, ErrorCode.REGISTRATION_CLOSED, "registration is closed")
    username = check_username(body.username)
    check_new_password(body.password, username)
    try:
        # Each registration counts against the address, like a failed login.
        await throttle_attempt(runtime, address)
    except Throttled as exc:
        runtime.audit.record("register", outcome="throttled", user=username, address=address)
        raise _too_many(exc.retry_after) from None
    if await runtime.store.name_is_taken(username):
        runtime.audit.record("register", outcome="taken", user=username, address=address)
        raise _taken()
    password_hash = await runtime.run_hasher(runtime.hasher.hash, body.password)
    try:
        user = await runtime.store.create_user(username, password_hash, list(DEFAULT_SCOPES))
    except UsernameTakenError:
        runtime.audit.record("register", outcome="taken", user=username, address=address)
        raise _taken() from None
    runtime.audit.record("register", outcome="success", user=username, address=address)
    return UserOut(id=user.id, username=user.username, scopes=user.scopes)


def _taken() -> ApiError:
    return ApiError(
        409, ErrorCode.USERNAME_TAKEN, "this username, or one that looks like it, is taken"
    )


class TokenForm(BaseModel):
    """The token endpoint's form (``application/x-www-form-urlencoded``)."""

    grant_type: str = Field(default="", max_length=64, examples=["password"])
    username: str = Field(default="", max_length=4 * MAX_USERNAME)
    password: str = Field(default="", max_length=4 * MAX_PASSWORD)
    scope: str = Field(default="", max_length=4096)
    refresh_token: str = Field(default="", max_length=512)
    client_id: str = Field(default="", max_length=128)
    client_secret: str = Field(default="", max_length=512)
    otp: str = Field(default="", max_length=64)


async def token(
    form: Annotated[TokenForm, Form()], request: Request, runtime: RuntimeDep
) -> TokenResponse | Response:
    """The OAuth 2 token endpoint: ``grant_type=password`` (log in), ``refresh_token``, or
    ``client_credentials`` (a machine client, see :mod:`sealbox.service.routes.oauth`)."""
    address = _address(request)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM:
        # RFC 6749 §3.2: the token endpoint takes a form, not JSON.
        raise _token_error(400, ErrorCode.INVALID_REQUEST, f"the token endpoint takes {_FORM}")
    grant_type, username, password = form.grant_type, form.username, form.password
    refresh_token = form.refresh_token
    scopes = form.scope.split()
    if not grant_type and username:
        grant_type = "password"  # as before grant types were told apart: a plain login form
    if grant_type == "client_credentials":
        return await oauth.client_credentials(
            runtime, request, form.client_id, form.client_secret, scopes
        )
    # Over mutual TLS, the access token is bound to the client certificate (RFC 8705 §3).
    bound_to = oauth.connection_thumbprint(request)
    if grant_type == "password":
        if not username or not password:
            raise _token_error(
                400, ErrorCode.INVALID_REQUEST, "the password grant needs username and password"
            )
        try:
            return _answer(
                await sessions.login(
                    runtime, username, password, address, scopes, bound_to=bound_to, otp=form.otp
                )
            )
        except TotpError as exc:
            raise _token_error(401, ErrorCode.MFA_REQUIRED, str(exc)) from None
        except Throttled as exc:
            runtime.audit.record("login", outcome="throttled", user=username, address=address)
            raise _too_many(exc.retry_after, token_endpoint=True) from None
        except AccountDisabled:
            # After the password check, as Keycloak answers: RFC 6749's invalid_grant.
            raise _grant_error("the account is disabled") from None
        except LoginFailed:
            raise _grant_error() from None
    if grant_type == "refresh_token":
        if not refresh_token:
            raise _token_error(
                400, ErrorCode.INVALID_REQUEST, "the refresh_token grant needs refresh_token"
            )
        return await _refresh(runtime, refresh_token, address, scopes, bound_to)
    if not grant_type:
        raise _token_error(400, ErrorCode.INVALID_REQUEST, "grant_type is missing")
    raise _token_error(
        400,
        ErrorCode.UNSUPPORTED_GRANT_TYPE,
        "grant_type must be password, refresh_token or client_credentials",
    )


async def _refresh(
    runtime: RuntimeDep,
    refresh_token: str,
    address: str,
    scopes: list[str],
    bound_to: str | None = None,
) -> TokenResponse:
    try:
        return _answer(
            await sessions.refresh(runtime, refresh_token, address, scopes, bound_to=bound_to)
        )
    except LoginFailed:
        raise _grant_error("the refresh token is not valid") from None
    except ScopeRefused:
        raise _token_error(
            400, ErrorCode.INVALID_SCOPE, "a refresh may narrow the granted scope, never widen it"
        ) from None


async def refresh(body: RefreshRequest, request: Request, runtime: RuntimeDep) -> TokenResponse:
    """Exchange a refresh token for new tokens. A refresh token works once:
    presenting a used one revokes every token of its family."""
    scopes = body.scope.split() if body.scope else []
    bound_to = oauth.connection_thumbprint(request)
    return await _refresh(runtime, body.refresh_token, _address(request), scopes, bound_to)


async def logout(
    body: RefreshRequest, request: Request, caller: UserCallerDep, runtime: RuntimeDep
) -> Response:
    """Revoke the refresh token's family, its access tokens, and this access token."""
    family = await runtime.store.revoke_family_of(body.refresh_token, caller.user_id)
    if family is not None:
        await sessions.revoke_family_access(runtime, family)
    await runtime.revocations.revoke(caller.jti, datetime.fromtimestamp(caller.expires, UTC))
    runtime.audit.record(
        "logout", outcome="success", user=caller.username, address=_address(request)
    )
    return Response(status_code=204)


async def change_password(
    body: PasswordChange, request: Request, caller: UserCallerDep, runtime: RuntimeDep
) -> Response:
    """Change the password; every session of the user ends (tokens included)."""
    address = _address(request)
    try:
        await throttle_attempt(runtime, address, caller.username)
    except Throttled as exc:
        runtime.audit.record(
            "password_change", outcome="throttled", user=caller.username, address=address
        )
        raise _too_many(exc.retry_after) from None
    user = await runtime.store.user_by_id(caller.user_id)
    if user is None or not await check_password(runtime, user, body.current_password):
        runtime.audit.record(
            "password_change", outcome="failure", user=caller.username, address=address
        )
        raise ApiError(403, ErrorCode.INVALID_CREDENTIALS, "the current password is wrong")
    await sessions.attempt_succeeded(runtime, address, caller.username)
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
    api.add_api_route(
        "/token",
        token,
        methods=["POST"],
        response_model=TokenResponse,
        route_class_override=TokenEndpointRoute,
    )
    api.add_api_route("/refresh", refresh, methods=["POST"], response_model=TokenResponse)
    api.add_api_route("/logout", logout, methods=["POST"], status_code=204)
    api.add_api_route("/password", change_password, methods=["POST"], status_code=204)
    return api
