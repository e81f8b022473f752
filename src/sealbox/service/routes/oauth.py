"""The service as a small standard authorization server: metadata, client authentication, the
client credentials grant, revocation, introspection, and client administration.

- ``GET /.well-known/oauth-authorization-server`` (RFC 8414) and the same document at
  ``/.well-known/openid-configuration``.
- ``POST /auth/token`` with ``grant_type=client_credentials`` (RFC 6749 §4.4): routed
  here by :mod:`sealbox.service.routes.auth`.
- ``POST /auth/revoke`` (RFC 7009) and ``POST /auth/introspect`` (RFC 7662).
- ``/clients…``: list, create, rotate a secret, delete, for callers holding
  :data:`ADMIN_SCOPE`.

Client authentication is HTTP Basic (``client_secret_basic``), ``client_id`` and
``client_secret`` in the form (``client_secret_post``), or the verified certificate of
a mutual-TLS connection with ``client_id`` in the form (RFC 8705 ``tls_client_auth``).
A failure is ``401 invalid_client`` with ``WWW-Authenticate: Basic``; which part was
wrong is never said. The decisions live in :mod:`sealbox.accounts.grants`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import unquote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sealbox.accounts.binding import thumbprint_from_digest
from sealbox.accounts.clients import ClientInfo, ClientNotFoundError, ClientStore
from sealbox.accounts.grants import (
    CLIENT_CREDENTIALS,
    REVOKE_SCOPE,
    ClientAuthError,
    RevocationRefusedError,
    ScopeNotGrantedError,
    authenticate_client,
    introspect,
    issue_client_token,
    revoke,
)
from sealbox.exceptions import ConfigError
from sealbox.service.db import sessionmaker
from sealbox.service.deps import Caller, RuntimeDep, client_identity, require_scopes
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.runtime import Runtime
from sealbox.service.sessions import DEFAULT_SCOPES

__all__ = [
    "ADMIN_SCOPE",
    "client_credentials",
    "client_store",
    "connection_thumbprint",
    "metadata",
    "router",
]

#: Who may list, create, rotate and delete clients over HTTP.
ADMIN_SCOPE: Final = "clients:admin"
AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "tls_client_auth")
_FORM: Final = "application/x-www-form-urlencoded"
_BASIC_CHALLENGE: Final = {"WWW-Authenticate": 'Basic realm="sealbox", charset="UTF-8"'}


@dataclass(frozen=True, slots=True)
class _OAuthState:
    sessions: async_sessionmaker[AsyncSession]
    clients: ClientStore


def _state(runtime: Runtime) -> _OAuthState:
    # Made on first use per worker, on the runtime's engine.
    state: _OAuthState | None = runtime.__dict__.get("_oauth")
    if state is None:
        sessions = sessionmaker(runtime.engine)
        state = _OAuthState(sessions, ClientStore(sessions))
        runtime.__dict__["_oauth"] = state
    return state


def client_store(runtime: Runtime) -> ClientStore:
    """The worker's :class:`ClientStore` (made on first use, on the runtime's engine)."""
    return _state(runtime).clients


def connection_thumbprint(request: Request) -> str | None:
    """The ``x5t#S256`` of the connection's verified client certificate (mTLS), or ``None``."""
    identity = client_identity(request)
    if identity is None:
        return None
    return thumbprint_from_digest(bytes.fromhex(identity.fingerprint))


def _oauth_error(status: int, code: ErrorCode, message: str, **headers: str) -> ApiError:
    # RFC 6749 §5.2: error and error_description, beside sealbox's message.
    return ApiError(
        status, code, message, headers=headers or None, extra={"error_description": message}
    )


def _invalid_client(message: str = "client authentication failed") -> ApiError:
    return _oauth_error(401, ErrorCode.INVALID_CLIENT, message, **_BASIC_CHALLENGE)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: ``Basic base64(urlencode(id) ":" urlencode(secret))``."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client() from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise _invalid_client()
    return unquote(client_id), unquote(secret)


def _check_form(request: Request) -> None:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM:
        raise _oauth_error(400, ErrorCode.INVALID_REQUEST, f"this endpoint takes {_FORM}")


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _authenticate(
    request: Request, runtime: Runtime, client_id: str, client_secret: str
) -> ClientInfo | None:
    identity = client_identity(request)
    basic = _basic_credentials(request)
    try:
        return await authenticate_client(
            client_store(runtime),
            basic=basic,
            client_id=client_id or None,
            client_secret=client_secret or None,
            subject_dn=identity.subject if identity is not None else None,
        )
    except ClientAuthError as exc:
        # The client id only (it is not a secret), at most 128 characters of it.
        named = basic[0] if basic is not None else client_id
        runtime.audit.record(
            "client_auth",
            outcome="failure",
            user=named[:128] or None,
            address=_address(request),
        )
        if exc.code == "invalid_request":
            raise _oauth_error(400, ErrorCode.INVALID_REQUEST, str(exc)) from None
        raise _invalid_client() from None


async def client_credentials(
    runtime: Runtime, request: Request, client_id: str, client_secret: str, scopes: list[str]
) -> JSONResponse:
    """The client credentials grant: an access token (bound under mTLS), no refresh token."""
    client = await _authenticate(request, runtime, client_id, client_secret)
    if client is None:
        raise _invalid_client("the client credentials grant needs client authentication")
    s = runtime.settings
    try:
        issued = issue_client_token(
            runtime.keyset,
            client,
            scopes,
            issuer=s.issuer,
            audience=s.audience,
            ttl=s.access_token_ttl,
            thumbprint=connection_thumbprint(request),
        )
    except ScopeNotGrantedError as exc:
        raise _oauth_error(400, ErrorCode.INVALID_SCOPE, str(exc)) from None
    runtime.audit.record(
        "client_token", outcome="success", user=client.client_id, address=_address(request)
    )
    return JSONResponse(
        {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "scope": " ".join(issued.scope),
        }
    )


def _base_url(request: Request, issuer: str) -> str:
    # The issuer is the base when it is an https URL (RFC 8414 §2); otherwise the URL the
    # request reached (answers are no-store, so one Host header cannot poison another's).
    if issuer.startswith("https://"):
        return issuer.rstrip("/")
    return str(request.base_url).rstrip("/")


def metadata(runtime: Runtime, request: Request) -> dict[str, Any]:
    """The RFC 8414 authorization server metadata."""
    s = runtime.settings
    base = _base_url(request, s.issuer)
    return {
        "issuer": s.issuer,
        "token_endpoint": f"{base}/auth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "revocation_endpoint": f"{base}/auth/revoke",
        "introspection_endpoint": f"{base}/auth/introspect",
        "grant_types_supported": ["password", "refresh_token", CLIENT_CREDENTIALS],
        # No authorization endpoint: no response type is served.
        "response_types_supported": [],
        "scopes_supported": sorted({*DEFAULT_SCOPES, ADMIN_SCOPE, REVOKE_SCOPE, "transit:admin"}),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": [*AUTH_METHODS, "none"],
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "tls_client_certificate_bound_access_tokens": s.client_ca is not None or s.mtls,
        "service_documentation": f"{base}/docs",
    }


class TokenRequestForm(BaseModel):
    """The form of ``/auth/revoke`` and ``/auth/introspect``."""

    token: str = Field(default="", max_length=8192)
    token_type_hint: str = Field(default="", max_length=64)
    client_id: str = Field(default="", max_length=128)
    client_secret: str = Field(default="", max_length=512)


async def revoke_token(
    form: Annotated[TokenRequestForm, Form()], request: Request, runtime: RuntimeDep
) -> Response:
    """RFC 7009 revocation: 200 for any token, known or not; a refresh token ends its family.

    A registered client authenticates; the first-party client (public, no secret) may
    name itself with ``client_id`` alone and revoke the tokens issued to it.
    """
    _check_form(request)
    s = runtime.settings
    public = (
        form.client_id == s.first_party_client_id
        and not form.client_secret
        and _basic_credentials(request) is None
    )
    client = (
        None
        if public
        else await _authenticate(request, runtime, form.client_id, form.client_secret)
    )
    if client is not None:
        caller_id, scopes = client.client_id, client.scopes
    elif public:
        caller_id, scopes = s.first_party_client_id, ()
    else:
        raise _invalid_client("revocation needs client authentication")
    if not form.token:
        raise _oauth_error(400, ErrorCode.INVALID_REQUEST, "the token to revoke is missing")
    try:
        what = await revoke(
            form.token,
            caller_id=caller_id,
            caller_scopes=scopes,
            verifier=runtime.verifier,
            revocations=runtime.revocations,
            sessions=_state(runtime).sessions,
            first_party_client_id=s.first_party_client_id,
            access_token_ttl=s.access_token_ttl,
        )
    except RevocationRefusedError as exc:
        runtime.audit.record("revoke", outcome="refused", user=caller_id, address=_address(request))
        raise _oauth_error(400, ErrorCode.UNAUTHORIZED_CLIENT, str(exc)) from None
    runtime.audit.record(
        "revoke",
        outcome="success" if what else "ignored",
        user=caller_id,
        address=_address(request),
        detail=what,
    )
    return Response(status_code=200)


async def introspect_token(
    form: Annotated[TokenRequestForm, Form()], request: Request, runtime: RuntimeDep
) -> JSONResponse:
    """RFC 7662 introspection for an authenticated client: ``{"active": false}`` unless live."""
    _check_form(request)
    client = await _authenticate(request, runtime, form.client_id, form.client_secret)
    if client is None:
        raise _invalid_client("introspection needs client authentication")
    if not form.token:
        raise _oauth_error(400, ErrorCode.INVALID_REQUEST, "the token to introspect is missing")
    answer = await introspect(
        form.token,
        verifier=runtime.verifier,
        revocations=runtime.revocations,
        sessions=_state(runtime).sessions,
        first_party_client_id=runtime.settings.first_party_client_id,
    )
    return JSONResponse(answer)


class NewClient(BaseModel):
    """A client to register."""

    name: str = Field(min_length=1, max_length=64, examples=["reporting"])
    scopes: list[str] = Field(default_factory=list, max_length=256)
    tls_client_auth_subject_dn: str | None = Field(default=None, max_length=1024)
    secret: bool = Field(default=True, description="Make a client secret.")


class SecretRotation(BaseModel):
    """How long the current secret keeps working beside the new one."""

    overlap: int = Field(default=0, ge=0, le=30 * 24 * 3600, description="Seconds.")


def _with_secret(client: ClientInfo, secret: str | None) -> dict[str, Any]:
    answer = client.to_dict()
    if secret is not None:
        answer["client_secret"] = secret
    return answer


def _config_error(exc: ConfigError) -> ApiError:
    if exc.code == "client_exists":
        return ApiError(409, ErrorCode.CLIENT_EXISTS, str(exc))
    return ApiError(422, ErrorCode.VALIDATION_ERROR, str(exc))


def _not_found(exc: ClientNotFoundError) -> ApiError:
    return ApiError(404, ErrorCode.CLIENT_NOT_FOUND, str(exc))


def _admin_router() -> APIRouter:
    api = APIRouter(prefix="/clients", tags=["clients"])
    admin = require_scopes(ADMIN_SCOPE)

    @api.get("", dependencies=[admin])
    async def list_clients(runtime: RuntimeDep) -> dict[str, Any]:
        """Every client (never a secret)."""
        return {"clients": [c.to_dict() for c in await client_store(runtime).list()]}

    @api.post("", status_code=201)
    async def create_client(
        body: NewClient, request: Request, runtime: RuntimeDep, caller: Caller = admin
    ) -> JSONResponse:
        """Register a client; the answer holds its secret, shown this once."""
        try:
            made = await client_store(runtime).create(
                body.name,
                body.scopes,
                subject_dn=body.tls_client_auth_subject_dn,
                with_secret=body.secret,
            )
        except ConfigError as exc:
            raise _config_error(exc) from None
        runtime.audit.record(
            "client_create",
            outcome="success",
            user=caller.username,
            address=_address(request),
            detail=made.client.name,
        )
        secret = made.secret.expose_secret() if made.secret else None
        return JSONResponse(_with_secret(made.client, secret), status_code=201)

    @api.post("/{name}/rotate-secret")
    async def rotate_secret(
        name: str,
        request: Request,
        runtime: RuntimeDep,
        body: SecretRotation | None = None,
        caller: Caller = admin,
    ) -> JSONResponse:
        """A new secret; the current one keeps working for ``overlap`` seconds (default 0)."""
        overlap = body.overlap if body is not None else 0
        try:
            made = await client_store(runtime).rotate_secret(name, overlap)
        except ClientNotFoundError as exc:
            raise _not_found(exc) from None
        runtime.audit.record(
            "client_rotate",
            outcome="success",
            user=caller.username,
            address=_address(request),
            detail=name,
        )
        secret = made.secret.expose_secret() if made.secret else None
        return JSONResponse(_with_secret(made.client, secret))

    @api.delete("/{name}", status_code=204)
    async def delete_client(
        name: str, request: Request, runtime: RuntimeDep, caller: Caller = admin
    ) -> Response:
        """Remove a client: its credentials stop working at once."""
        try:
            await client_store(runtime).delete(name)
        except ClientNotFoundError as exc:
            raise _not_found(exc) from None
        runtime.audit.record(
            "client_delete",
            outcome="success",
            user=caller.username,
            address=_address(request),
            detail=name,
        )
        return Response(status_code=204)

    return api


def router() -> APIRouter:
    """The metadata documents, ``/auth/revoke``, ``/auth/introspect`` and ``/clients``."""
    from sealbox.service.routes.auth import TokenEndpointRoute

    api = APIRouter()

    async def authorization_server(request: Request, runtime: RuntimeDep) -> JSONResponse:
        """RFC 8414 authorization server metadata."""
        return JSONResponse(metadata(runtime, request))

    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        api.add_api_route(path, authorization_server, methods=["GET"], tags=["service"])
    api.add_api_route(
        "/auth/revoke",
        revoke_token,
        methods=["POST"],
        tags=["auth"],
        route_class_override=TokenEndpointRoute,
    )
    api.add_api_route(
        "/auth/introspect",
        introspect_token,
        methods=["POST"],
        tags=["auth"],
        route_class_override=TokenEndpointRoute,
    )
    api.include_router(_admin_router())
    return api
