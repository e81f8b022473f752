"""The mountable auth routes: register, the OAuth 2 token endpoint, refresh, log out, change
password, ``users/me`` and the JWKS, over an app's own :class:`~sealbox.accounts.Accounts`.

The routes parse and answer; :mod:`sealbox.accounts.sessions` decides. ``sealbox serve``
mounts these same routers. Login defence:

- attempts are counted per username and per client address, atomically with the
  check of the limit; past it the answer is 429 with ``Retry-After``, before any
  password is checked;
- an unknown user and a wrong password get the same status, body and timing: the
  unknown user's password is checked against a dummy hash with the same cost;
- every attempt is written to the audit sink (never the password or a token).

The token endpoint takes ``grant_type=password`` and ``grant_type=refresh_token``
(RFC 6749 §4.3, §6), and ``client_credentials`` (§4.4) for the clients of
:attr:`Accounts.clients <sealbox.accounts.core.Accounts.clients>`
(:mod:`sealbox.integrations.fastapi.client_auth`); over mutual TLS the access tokens it
issues are bound to the client certificate (RFC 8705 §3). A registered client that
authenticates with a password or refresh grant gets tokens issued to it: its refresh
family is refreshed only with that client's authentication, and a family issued without
client authentication only without one (RFC 6749 §6; ``refresh``, which takes no client
authentication, refreshes the latter alone). A password login of an account
with a second factor takes the code in ``otp`` (401 ``mfa_required`` without it, with the
challenge ``WWW-Authenticate: OTP realm="sealbox"``, which browsers show no dialog for). Its
errors carry RFC 6749 §5.2's ``error`` and ``error_description`` beside sealbox's
``message``, malformed forms included (400 ``invalid_request``, not FastAPI's 422). The
answers of ``token`` and ``refresh``, their errors included, carry ``Cache-Control:
no-store`` and ``Pragma: no-cache`` (RFC 6749 §5.1).
``logout``, ``password`` and ``users/me`` are an account's: a client's token gets 403
``user_token_required``. The JSON bodies refuse a member they do not know (422
``validation_error`` naming it); the token endpoint's form ignores one (RFC 6749 §3.2).

Each factory takes the accounts, or a function of the request that returns them (for
accounts opened in the app's lifespan)::

    app.include_router(auth_router(lambda request: request.app.state.accounts))

.. versionadded:: 0.1.0
"""

# No ``from __future__ import annotations``: the routes are closures, and FastAPI reads
# their annotations, which name the factory's local dependencies.

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from sealbox.accounts import sessions
from sealbox.accounts.clients import ClientInfo
from sealbox.accounts.core import Accounts, Caller
from sealbox.accounts.grants import CLIENT_CREDENTIALS
from sealbox.accounts.scopes import scope_list
from sealbox.accounts.sessions import (
    DEFAULT_SCOPES,
    MAX_PASSWORD,
    CurrentPasswordError,
    IssuedTokens,
    LoginFailed,
    RegistrationClosedError,
    ScopeRefused,
    Throttled,
    UsernameUnavailableError,
    WeakPasswordError,
)
from sealbox.accounts.totp import TotpError
from sealbox.accounts.usernames import MAX_USERNAME, UsernameError, canonical_username
from sealbox.integrations.fastapi.bearer import BearerAuth, connection_thumbprint
from sealbox.integrations.fastapi.client_auth import (
    client_credentials_grant,
    grant_client,
    oauth_error,
    refuse_non_form,
    refuse_repeated_parameters,
    too_many_attempts,
)
from sealbox.integrations.fastapi.client_cert import client_identity
from sealbox.integrations.fastapi.errors import ApiError, ErrorCode
from sealbox.integrations.fastapi.token_route import (
    NO_STORE,
    AccountAnswerRoute,
    NoStoreRoute,
    OAuthErrorBody,
    StoreOutageRoute,
    TokenEndpointRoute,
)

__all__ = [
    "DEFAULT_SCOPES",
    "NO_STORE",
    "AccountsSource",
    "Credentials",
    "Me",
    "NoStoreRoute",
    "OAuthErrorBody",
    "TokenEndpointRoute",
    "TokenResponse",
    "UserOut",
    "accounts_bearer",
    "auth_router",
    "check_new_password",
    "check_username",
    "jwks_router",
    "user_caller",
    "users_router",
]

#: The challenge of a 401 ``mfa_required``: the one-time code goes in the form's ``otp``.
#: ``OTP`` is no registered HTTP scheme, so that browsers show no dialog of their own.
OTP_CHALLENGE: Final = 'OTP realm="sealbox"'

#: The accounts, or a function of the request that returns them.
AccountsSource = Accounts | Callable[[Request], Accounts]


def _getter(source: AccountsSource) -> Callable[[Request], Accounts]:
    if isinstance(source, Accounts):
        fixed = source
        return lambda _request: fixed
    return source


def _dependency(source: AccountsSource) -> Callable[[Request], Coroutine[Any, Any, Accounts]]:
    get = _getter(source)

    async def accounts(request: Request) -> Accounts:
        return get(request)

    return accounts


def accounts_bearer(
    source: AccountsSource,
    *,
    token_url: str = "/auth/token",  # noqa: S107 - a URL
    scheme_name: str = "OAuth2PasswordBearer",
) -> BearerAuth[Caller]:
    """The bearer dependency for access tokens the accounts issued (revocation checked)."""
    return BearerAuth(_getter(source), token_url=token_url, scheme_name=scheme_name)


# A misspelt member dropped would have the rest acted on ("scopes" at /refresh: the full
# grant, not the narrower one asked for).
_NO_OTHER_MEMBER: Final = ConfigDict(extra="forbid")


class Credentials(BaseModel):
    """A new account."""

    model_config = _NO_OTHER_MEMBER

    username: str = Field(min_length=1, max_length=4 * MAX_USERNAME, examples=["alice"])
    password: str = Field(min_length=1, max_length=4 * MAX_PASSWORD, examples=["correct horse"])


class TokenResponse(BaseModel):
    """An access token and the refresh token to get the next one; ``scope``, what the
    access token grants, ``None`` when it grants nothing (a route of one's own answering
    it leaves it out with ``response_model_exclude_none=True``, as ``auth_router``'s do).

    .. versionchanged:: 0.1.0
       ``scope`` is ``None``, not ``""``, when nothing is granted.
    """

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str
    # None when nothing is granted: the routes leave it out (response_model_exclude_none),
    # never "" (RFC 6749 §3.3: 1*scope-token) nor null; the schema, an optional string.
    scope: str | SkipJsonSchema[None] = None


class RefreshRequest(BaseModel):
    """A refresh token to exchange (or revoke); ``scope`` may narrow the grant."""

    model_config = _NO_OTHER_MEMBER

    refresh_token: str = Field(min_length=1, max_length=512)
    scope: str | None = Field(default=None, max_length=4096)


class PasswordChange(BaseModel):
    """The current password and the new one."""

    model_config = _NO_OTHER_MEMBER

    current_password: str = Field(min_length=1, max_length=4 * MAX_PASSWORD)
    new_password: str = Field(min_length=1, max_length=4 * MAX_PASSWORD)


class UserOut(BaseModel):
    """An account as the API shows it."""

    id: int
    username: str
    scopes: list[str]


class Me(BaseModel):
    """The caller, from its access token, and the client certificate of the connection."""

    id: int
    username: str
    scopes: list[str]
    expires_at: int
    client_certificate: dict[str, Any] | None = None


def check_username(username: str) -> str:
    """The canonical form of a new username (RFC 8265), or a 422 saying what is wrong."""
    try:
        return canonical_username(username)
    except UsernameError as exc:
        raise ApiError(422, ErrorCode.VALIDATION_ERROR, str(exc)) from None


def check_new_password(password: str, username: str, max_length: int = MAX_PASSWORD) -> None:
    """At most ``max_length`` characters as typed (counted before NFKC normalisation), at
    least 8 after it, and not the username (else 422 ``weak_password``).

    ``max_length`` is the hasher's that will hash the password (:attr:`PasswordHasher.max_length
    <sealbox.passwords.PasswordHasher.max_length>`, 1024 by default), as the auth routes
    measure: give it to an :class:`~sealbox.accounts.admin.AccountAdmin` over a hasher of
    another limit as ``functools.partial(check_new_password, max_length=hasher.max_length)``,
    or a longer password passes here and the hasher refuses it after.

    .. versionchanged:: 0.1.0
       ``max_length``.
    """
    try:
        sessions.check_new_password(password, username, max_length)
    except WeakPasswordError as exc:
        raise ApiError(422, ErrorCode.WEAK_PASSWORD, str(exc)) from None


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def user_caller(caller: Caller) -> Caller:
    """``caller``, unless it is a machine client (403 ``user_token_required``)."""
    if caller.client_id is not None:
        raise ApiError(
            403,
            ErrorCode.USER_TOKEN_REQUIRED,
            "this route needs a user's access token; a client's token has no account",
        )
    return caller


def _grant_error(message: str = "invalid username or password") -> ApiError:
    return oauth_error(400, ErrorCode.INVALID_GRANT, message)


def _answer(issued: IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        scope=" ".join(issued.scope) or None,
    )


class TokenForm(BaseModel):
    """The token endpoint's form (``application/x-www-form-urlencoded``)."""

    # An extension grant type is an absolute URI (RFC 6749 §4.5): unknown is unsupported.
    grant_type: str = Field(default="", max_length=2048, examples=["password"])
    username: str = Field(default="", max_length=4 * MAX_USERNAME)
    password: str = Field(default="", max_length=4 * MAX_PASSWORD)
    scope: str = Field(default="", max_length=4096)
    # Longer than any refresh token (an access token sent in its place): invalid_grant.
    refresh_token: str = Field(default="", max_length=8192)
    client_id: str = Field(default="", max_length=128)
    client_secret: str = Field(default="", max_length=512)
    otp: str = Field(default="", max_length=64)


async def register(accounts: Accounts, body: Credentials, address: str) -> UserOut:
    """Create an account (username per RFC 8265, at most 150 characters; password at least
    8 characters after NFKC normalisation and at most the accounts' hasher's ``max_length``,
    1024 by default, as typed)."""
    try:
        user = await sessions.register(accounts, body.username, body.password, address)
    except RegistrationClosedError as exc:
        raise ApiError(403, ErrorCode.REGISTRATION_CLOSED, str(exc)) from None
    except UsernameError as exc:
        raise ApiError(422, ErrorCode.VALIDATION_ERROR, str(exc)) from None
    except WeakPasswordError as exc:
        raise ApiError(422, ErrorCode.WEAK_PASSWORD, str(exc)) from None
    except Throttled as exc:
        raise too_many_attempts(exc.retry_after, oauth=False) from None
    except UsernameUnavailableError as exc:
        raise ApiError(409, ErrorCode.USERNAME_TAKEN, str(exc)) from None
    return UserOut(id=user.id, username=user.username, scopes=user.scopes)


async def token(accounts: Accounts, form: TokenForm, request: Request) -> TokenResponse | Response:
    """The OAuth 2 token endpoint: ``grant_type=password`` (log in), ``refresh_token``, or
    ``client_credentials`` (a machine client, when the accounts have clients)."""
    address = _address(request)
    refuse_non_form(request, "the token endpoint")
    await refuse_repeated_parameters(request, TokenForm.model_fields)
    grant_type, username, password = form.grant_type, form.username, form.password
    refresh_token = form.refresh_token
    scopes = scope_list(form.scope)
    if not grant_type and username:
        grant_type = "password"  # as before grant types were told apart: a plain login form
    if grant_type == CLIENT_CREDENTIALS and accounts.clients is not None:
        return JSONResponse(
            await client_credentials_grant(
                accounts, request, form.client_id, form.client_secret, scopes
            )
        )
    client = None
    if grant_type in ("password", "refresh_token"):
        # The client that authenticated, if any: the tokens are then the client's, and its
        # refresh family is refreshed by it alone (RFC 6749 §6, §10.4).
        client = await grant_client(accounts, request, form.client_id, form.client_secret)
    client_id = client.client_id if client is not None else None
    # Over mutual TLS, the access token is bound to the client certificate (RFC 8705 §3).
    bound_to = connection_thumbprint(request)
    if grant_type == "password":
        if not username or not password:
            raise oauth_error(
                400, ErrorCode.INVALID_REQUEST, "the password grant needs username and password"
            )
        return await _password_grant(
            accounts,
            username,
            password,
            address=address,
            scopes=scopes,
            bound_to=bound_to,
            otp=form.otp,
            client=client,
        )
    if grant_type == "refresh_token":
        if not refresh_token:
            raise oauth_error(
                400, ErrorCode.INVALID_REQUEST, "the refresh_token grant needs refresh_token"
            )
        return await refresh(
            accounts, refresh_token, address, scopes, bound_to=bound_to, client_id=client_id
        )
    if not grant_type:
        raise oauth_error(400, ErrorCode.INVALID_REQUEST, "grant_type is missing")
    served = (
        "password, refresh_token or client_credentials"
        if accounts.clients is not None
        else "password or refresh_token"
    )
    raise oauth_error(400, ErrorCode.UNSUPPORTED_GRANT_TYPE, f"grant_type must be {served}")


async def _password_grant(
    accounts: Accounts,
    username: str,
    password: str,
    *,
    address: str,
    scopes: list[str],
    bound_to: str | None,
    otp: str | None,
    client: ClientInfo | None = None,
) -> TokenResponse:
    """The token endpoint's ``grant_type=password``: a login, its refusals as RFC 6749's."""
    try:
        issued = await sessions.login(
            accounts,
            username,
            password,
            address,
            scopes,
            bound_to=bound_to,
            otp=otp,
            client_id=client.client_id if client is not None else None,
            client_version=client.session_version if client is not None else None,
        )
    except TotpError as exc:
        # RFC 9110 §11.6.1: a 401 carries a challenge. Not Basic: a browser answers
        # that with its own password dialog, over the login form that asked.
        raise oauth_error(
            401, ErrorCode.MFA_REQUIRED, str(exc), **{"WWW-Authenticate": OTP_CHALLENGE}
        ) from None
    except Throttled as exc:
        raise too_many_attempts(exc.retry_after) from None
    except LoginFailed:
        # A disabled account's too (AccountDisabled): a wrong password's answer, whether its
        # password was right or not; the audit log and the log say why.
        raise _grant_error() from None
    except ScopeRefused as exc:
        raise oauth_error(400, ErrorCode.INVALID_SCOPE, str(exc)) from None
    return _answer(issued)


async def refresh(
    accounts: Accounts,
    refresh_token: str,
    address: str,
    scopes: list[str],
    *,
    bound_to: str | None = None,
    client_id: str | None = None,
) -> TokenResponse:
    """The refresh grant, answered (or refused) as the token endpoint does; ``bound_to``, the
    ``x5t#S256`` of the connection's client certificate; ``client_id``, the client that
    authenticated (``None``: none did), which must be the one the family was issued to."""
    try:
        issued = await sessions.refresh(
            accounts, refresh_token, address, scopes, bound_to=bound_to, client_id=client_id
        )
        return _answer(issued)
    except LoginFailed:
        raise _grant_error("the refresh token is not valid") from None
    except ScopeRefused:
        raise oauth_error(
            400, ErrorCode.INVALID_SCOPE, "a refresh may narrow the granted scope, never widen it"
        ) from None


async def change_password(
    accounts: Accounts, body: PasswordChange, caller: Caller, address: str
) -> None:
    """Change the caller's password, answered (or refused) as ``/auth/password`` does."""
    try:
        await sessions.change_password(
            accounts, caller, body.current_password, body.new_password, address
        )
    except Throttled as exc:
        raise too_many_attempts(exc.retry_after, oauth=False) from None
    except CurrentPasswordError as exc:
        raise ApiError(403, ErrorCode.INVALID_CREDENTIALS, str(exc)) from None
    except WeakPasswordError as exc:
        raise ApiError(422, ErrorCode.WEAK_PASSWORD, str(exc)) from None


def auth_router(
    accounts: AccountsSource,
    *,
    prefix: str = "/auth",
    tags: list[str] | None = None,
    bearer: BearerAuth[Caller] | None = None,
) -> APIRouter:
    """``register``, ``token``, ``refresh``, ``logout`` and ``password`` under ``prefix``.

    Args:
        accounts: the accounts, or a function of the request that returns them.
        prefix: where the routes live (``/auth``: ``/auth/token``…).
        tags: OpenAPI tags (``["auth"]``).
        bearer: the bearer dependency of ``logout`` and ``password`` (by default one
            over ``accounts`` whose token URL is ``{prefix}/token``).
    """
    auth = bearer or accounts_bearer(accounts, token_url=f"{prefix}/token")
    AccountsDep = Annotated[Accounts, Depends(_dependency(accounts))]  # noqa: N806 - a type alias

    async def user(caller: Annotated[Caller, Depends(auth)]) -> Caller:
        return user_caller(caller)  # before the body is read: a client's token is 403

    CallerDep = Annotated[Caller, Depends(user)]  # noqa: N806 - a type alias

    async def register_route(body: Credentials, request: Request, acc: AccountsDep) -> UserOut:
        """Create an account (username per RFC 8265, at most 150 characters; password at
        least 8 characters after NFKC normalisation, at most the hasher's ``max_length``
        (1024 by default) as typed)."""
        return await register(acc, body, _address(request))

    async def token_route(
        form: Annotated[TokenForm, Form()], request: Request, acc: AccountsDep
    ) -> TokenResponse | Response:
        """The OAuth 2 token endpoint: ``grant_type=password`` (log in), ``refresh_token``, or
        ``client_credentials`` (a machine client)."""
        return await token(acc, form, request)

    async def refresh_route(
        body: RefreshRequest, request: Request, acc: AccountsDep
    ) -> TokenResponse:
        """Exchange a refresh token for new tokens. A refresh token works once:
        presenting a used one revokes every token of its family. No client authenticates
        here: a token issued to a registered client is refreshed at the token endpoint."""
        scopes = scope_list(body.scope) if body.scope else []
        bound_to = connection_thumbprint(request)
        return await refresh(acc, body.refresh_token, _address(request), scopes, bound_to=bound_to)

    async def logout_route(
        body: RefreshRequest, request: Request, caller: CallerDep, acc: AccountsDep
    ) -> Response:
        """Revoke the refresh token's family, its access tokens, and this access token."""
        await sessions.logout(acc, caller, body.refresh_token, _address(request))
        return Response(status_code=204)

    async def password_route(
        body: PasswordChange, request: Request, caller: CallerDep, acc: AccountsDep
    ) -> Response:
        """Change the password; every session of the user ends (tokens included)."""
        await change_password(acc, body, caller, _address(request))
        return Response(status_code=204)

    api = APIRouter(prefix=prefix, tags=list(tags or ["auth"]))
    api.add_api_route(
        "/register",
        register_route,
        methods=["POST"],
        status_code=201,
        response_model=UserOut,
        route_class_override=NoStoreRoute,  # the new account's data
        name="register",
    )
    api.add_api_route(
        "/token",
        token_route,
        methods=["POST"],
        response_model=TokenResponse,
        response_model_exclude_none=True,  # no scope granted: no member
        route_class_override=TokenEndpointRoute,
        name="token",
    )
    api.add_api_route(
        "/refresh",
        refresh_route,
        methods=["POST"],
        response_model=TokenResponse,
        response_model_exclude_none=True,  # no scope granted: no member
        route_class_override=NoStoreRoute,
        name="refresh",
    )
    api.add_api_route(
        "/logout",
        logout_route,
        methods=["POST"],
        status_code=204,
        route_class_override=StoreOutageRoute,
        name="logout",
    )
    api.add_api_route(
        "/password",
        password_route,
        methods=["POST"],
        status_code=204,
        route_class_override=StoreOutageRoute,
        name="change_password",
    )
    return api


def users_router(
    accounts: AccountsSource,
    *,
    path: str = "/users/me",
    tags: list[str] | None = None,
    bearer: BearerAuth[Caller] | None = None,
) -> APIRouter:
    """``GET /users/me``: who the access token belongs to (no database access)."""
    auth = bearer or accounts_bearer(accounts)
    CallerDep = Annotated[Caller, Depends(auth)]  # noqa: N806 - a type alias
    api = APIRouter(route_class=AccountAnswerRoute)  # no-store: the account's data

    async def me(caller: CallerDep, request: Request) -> Me:
        """Who the access token belongs to (no database access); a client's token is refused."""
        user_caller(caller)
        identity = client_identity(request)
        return Me(
            id=caller.user_id,
            username=caller.username,
            scopes=sorted(caller.scopes),
            expires_at=int(caller.expires),
            client_certificate=identity.to_dict() if identity else None,
        )

    api.add_api_route(path, me, methods=["GET"], response_model=Me, tags=list(tags or ["users"]))
    return api


def jwks_router(
    accounts: AccountsSource,
    *,
    path: str = "/.well-known/jwks.json",
    tags: list[str] | None = None,
    max_age: int = 300,
) -> APIRouter:
    """``GET /.well-known/jwks.json``: the public keys that verify the access tokens (RFC 7517)."""
    AccountsDep = Annotated[Accounts, Depends(_dependency(accounts))]  # noqa: N806 - a type alias
    api = APIRouter()

    async def jwks(acc: AccountsDep) -> JSONResponse:
        """The public keys that verify this service's access tokens (RFC 7517)."""
        return JSONResponse(
            acc.public_jwks(), headers={"Cache-Control": f"public, max-age={max_age}"}
        )

    api.add_api_route(path, jwks, methods=["GET"], tags=list(tags or ["service"]))
    return api
