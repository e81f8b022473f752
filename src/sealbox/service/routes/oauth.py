"""The service as a small standard authorization server: metadata, client authentication, the
client credentials grant, revocation, introspection, and client administration.

- ``GET /.well-known/oauth-authorization-server`` (RFC 8414) and the same document at
  ``/.well-known/openid-configuration``; for an ``https`` issuer with a path, also where
  RFC 8414 §3.1 puts it, ``/.well-known/oauth-authorization-server/<that path>``.
- ``POST /auth/token`` with ``grant_type=client_credentials`` (RFC 6749 §4.4): the
  library's token endpoint (:mod:`sealbox.integrations.fastapi.router`) answers it for
  the worker's accounts, whose ``clients`` are the store the routes here administer.
- ``POST /auth/revoke`` (RFC 7009) and ``POST /auth/introspect`` (RFC 7662).
- ``/clients…``: list, show, create, grant and take back scopes, rotate a secret (and end
  the tokens issued before), disable and enable, delete, for callers holding
  :data:`ADMIN_SCOPE`.

Client authentication is HTTP Basic (``client_secret_basic``), ``client_id`` and
``client_secret`` in the form (``client_secret_post``), or the verified certificate of
a mutual-TLS connection with ``client_id`` in the form (RFC 8705 ``tls_client_auth``).
A failure is ``401 invalid_client`` with ``WWW-Authenticate: Basic``; which part was
wrong is never said (:mod:`sealbox.integrations.fastapi.client_auth`). The decisions live
in :mod:`sealbox.accounts.grants`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from sealbox.accounts import DEFAULT_SCOPES
from sealbox.accounts.audit import ChangeRecord
from sealbox.accounts.clients import (
    ClientInfo,
    ClientNotFoundError,
    ClientStore,
    NewSecret,
    check_scopes,
)
from sealbox.accounts.grants import (
    CLIENT_CREDENTIALS,
    INTROSPECT_SCOPE,
    REVOKE_SCOPE,
    IntrospectionRefusedError,
    RevocationRefusedError,
    introspect,
    revoke,
)
from sealbox.exceptions import ConfigError, StoreUnavailableError
from sealbox.integrations.fastapi import authenticate_client_request
from sealbox.integrations.fastapi.bearer import insufficient_scope, missing_scopes
from sealbox.integrations.fastapi.client_auth import (
    basic_credentials,
    invalid_client,
    oauth_error,
    refuse_non_form,
    refuse_repeated_parameters,
)
from sealbox.integrations.fastapi.router import TokenEndpointRoute
from sealbox.integrations.fastapi.strict_json import StrictJSONRoute
from sealbox.service.deps import Caller, RuntimeDep, held_scopes, require_held_scopes
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.routes.admin_users import ADMIN_SCOPE as USERS_ADMIN_SCOPE
from sealbox.service.routes.client_ending import (
    delete_sweeping,
    ender,
    partly_ended,
    tokens_ended,
)
from sealbox.service.routes.transit_call import ADMIN_SCOPE as TRANSIT_ADMIN_SCOPE
from sealbox.service.runtime import Runtime

__all__ = [
    "ADMIN_SCOPE",
    "client_store",
    "metadata",
    "router",
]

#: Who may administer clients over HTTP.
ADMIN_SCOPE: Final = "clients:admin"
#: How a client authenticates: by its secret always, by its certificate where the
#: service takes client certificates (``--client-ca``, ``--mtls``).
SECRET_AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post")
CERTIFICATE_AUTH_METHOD: Final = "tls_client_auth"


def client_store(runtime: Runtime) -> ClientStore:
    """The worker's :class:`ClientStore` (its accounts' clients)."""
    return runtime.clients


async def _check_form(request: Request) -> None:
    refuse_non_form(request)  # TokenEndpointRoute refused it already; for direct callers
    await refuse_repeated_parameters(request, TokenRequestForm.model_fields)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _authenticate(
    request: Request, runtime: Runtime, client_id: str, client_secret: str
) -> ClientInfo | None:
    return await authenticate_client_request(runtime.accounts, request, client_id, client_secret)


def _base_url(request: Request, issuer: str) -> str:
    # The issuer is the base when it is an https URL (RFC 8414 §2); otherwise the URL the
    # request reached (answers are no-store, so one Host header cannot poison another's).
    if issuer.startswith("https://"):
        return issuer.rstrip("/")
    return str(request.base_url).rstrip("/")


def _issuer_path(issuer: str) -> str | None:
    """The path of an ``https`` issuer without its final ``/`` (``/tenant``), else ``None``."""
    if not issuer.startswith("https://"):
        return None
    return unquote(urlsplit(issuer).path).rstrip("/") or None


def metadata(runtime: Runtime, request: Request) -> dict[str, Any]:
    """The RFC 8414 authorization server metadata."""
    s = runtime.settings
    base = _base_url(request, s.issuer)
    certificates = s.client_ca is not None or s.mtls
    methods = [*SECRET_AUTH_METHODS, *([CERTIFICATE_AUTH_METHOD] if certificates else [])]
    own = (ADMIN_SCOPE, USERS_ADMIN_SCOPE, REVOKE_SCOPE, INTROSPECT_SCOPE, TRANSIT_ADMIN_SCOPE)
    scopes = {*DEFAULT_SCOPES, *own}
    return {
        "issuer": s.issuer,
        "token_endpoint": f"{base}/auth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "revocation_endpoint": f"{base}/auth/revoke",
        "introspection_endpoint": f"{base}/auth/introspect",
        "grant_types_supported": ["password", "refresh_token", CLIENT_CREDENTIALS],
        # No "response_types_supported": with no authorization endpoint no response type
        # is served (RFC 7591 §2.1 pairs these three grants with none), and RFC 8414 §3.2
        # says a member of zero elements MUST be omitted. §2 calls the member REQUIRED;
        # erratum 7793 would make it so only where a grant uses the authorization
        # endpoint, as authorization_endpoint is. Naming a response type would be untrue.
        "scopes_supported": sorted(scopes),
        # "none": the password and refresh grants serve the public first-party client.
        "token_endpoint_auth_methods_supported": [*methods, "none"],
        "revocation_endpoint_auth_methods_supported": [*methods, "none"],
        "introspection_endpoint_auth_methods_supported": methods,
        "tls_client_certificate_bound_access_tokens": certificates,
        "service_documentation": f"{base}/docs",
    }


class TokenRequestForm(BaseModel):
    """The form of ``/auth/revoke`` and ``/auth/introspect``."""

    # No limit of its own (the body's holds): a token longer than any issued is not valid,
    # which is no error (RFC 7009 §2.2, RFC 7662 §2.2), nor a reason to skip client auth.
    token: str = ""
    # Read by nothing, and so not limited either: tokens are told apart without it, and an
    # invalid hint "does not influence the revocation response" (RFC 7009 §2.2).
    token_type_hint: str = ""
    client_id: str = Field(default="", max_length=128)
    client_secret: str = Field(default="", max_length=512)


async def revoke_token(
    form: Annotated[TokenRequestForm, Form()], request: Request, runtime: RuntimeDep
) -> Response:
    """RFC 7009 revocation: 200 for any token, known or not; a refresh token ends its family.

    A registered client authenticates; the first-party client (public, no secret) may
    name itself with ``client_id`` alone (or in a Basic header with an empty password) and
    revoke the tokens issued to it.
    """
    await _check_form(request)
    s = runtime.settings
    basic = basic_credentials(request)
    # The public client names itself in the form, or in a Basic header with an empty
    # password (as some libraries send for a client without a secret, and as the token
    # endpoint takes it): no secret either way.
    named = form.client_id if basic is None else basic[0]
    public = (
        named == s.first_party_client_id
        and not form.client_secret
        and (basic is None or (not basic[1] and form.client_id in ("", basic[0])))
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
        raise invalid_client("revocation needs client authentication")
    if not form.token:
        raise oauth_error(400, ErrorCode.INVALID_REQUEST, "the token to revoke is missing")
    # A revocation's record is written in its transaction: one the log refuses (503
    # audit_unavailable) revokes nothing. Nothing revoked is recorded after, as "ignored".
    record = ChangeRecord(runtime.audit, "revoke", user=caller_id, address=_address(request))
    try:
        what = await revoke(
            form.token,
            caller_id=caller_id,
            caller_scopes=scopes,
            verifier=runtime.verifier,
            revocations=runtime.revocations,
            sessions=runtime.store.sessions,
            first_party_client_id=s.first_party_client_id,
            access_token_ttl=s.access_token_ttl,
            record=record,
        )
    except RevocationRefusedError as exc:
        runtime.audit.record("revoke", outcome="refused", user=caller_id, address=_address(request))
        raise oauth_error(400, ErrorCode.UNAUTHORIZED_CLIENT, str(exc)) from None
    if not what:
        runtime.audit.record("revoke", outcome="ignored", user=caller_id, address=_address(request))
    return Response(status_code=200)


async def introspect_token(
    form: Annotated[TokenRequestForm, Form()], request: Request, runtime: RuntimeDep
) -> JSONResponse:
    """RFC 7662 introspection for an authenticated client: ``{"active": false}`` unless live
    and issued to it, or it holds :data:`INTROSPECT_SCOPE` (RFC 7662 §4: a refusal answers as
    a dead token, and is audited). The public first-party client may not introspect."""
    await _check_form(request)
    client = await _authenticate(request, runtime, form.client_id, form.client_secret)
    if client is None:
        raise invalid_client("introspection needs client authentication")
    if not form.token:
        raise oauth_error(400, ErrorCode.INVALID_REQUEST, "the token to introspect is missing")
    try:
        answer = await introspect(
            form.token,
            caller_id=client.client_id,
            caller_scopes=client.scopes,
            verifier=runtime.verifier,
            revocations=runtime.revocations,
            sessions=runtime.store.sessions,
            first_party_client_id=runtime.settings.first_party_client_id,
            family_ttl=runtime.settings.refresh_family_ttl,
        )
    except IntrospectionRefusedError:
        # Audited as a refused revocation is: a resource server missing the scope (or a
        # client probing others' tokens) shows in the log, never to the caller.
        runtime.audit.record(
            "introspect", outcome="refused", user=client.client_id, address=_address(request)
        )
        answer = {"active": False}
    return JSONResponse(answer)


class NewClient(BaseModel):
    """A client to register."""

    model_config = ConfigDict(extra="forbid")  # a misspelt member is refused, not dropped

    name: str = Field(min_length=1, max_length=64, examples=["reporting"])
    scopes: list[str] = Field(default_factory=list, max_length=256)
    tls_client_auth_subject_dn: str | None = Field(default=None, max_length=1024)
    secret: bool = Field(default=True, description="Make a client secret.")


class ScopesIn(BaseModel):
    """Scopes to grant."""

    model_config = ConfigDict(extra="forbid")  # a misspelt member is refused, not dropped

    scopes: list[str] = Field(min_length=1, max_length=256, examples=[["transit:admin"]])


class SecretRotation(BaseModel):
    """How long the current secret keeps working beside the new one."""

    model_config = ConfigDict(extra="forbid")  # a misspelt member is refused, not dropped

    overlap: int = Field(default=0, ge=0, le=30 * 24 * 3600, description="Seconds.")
    revoke_tokens: bool = Field(
        default=False,
        description="Refuse the access tokens issued before, at once (the new secret's pass).",
    )


def _with_secret(client: ClientInfo, secret: str | None) -> dict[str, Any]:
    answer = client.to_dict()
    if secret is not None:
        answer["client_secret"] = secret
    return answer


def _config_error(exc: ConfigError) -> ApiError:
    if exc.code == "client_exists":
        return ApiError(409, ErrorCode.CLIENT_EXISTS, str(exc))
    if exc.code == "client_busy":  # other changes ending its tokens kept coming between
        return ApiError(409, ErrorCode.CLIENT_BUSY, str(exc))
    return ApiError(422, ErrorCode.VALIDATION_ERROR, str(exc))


def _not_found(exc: ClientNotFoundError) -> ApiError:
    return ApiError(404, ErrorCode.CLIENT_NOT_FOUND, str(exc))


async def _holds_all(runtime: Runtime, caller: Caller, scopes: tuple[str, ...] | list[str]) -> None:
    """Refuse a client administrator a client that would hold a scope the caller lacks:
    creating one, or taking a new secret of one, would hand the caller that scope (a
    ``clients:admin`` token minting a ``users:admin`` client). Lacking it is not having it
    in the token, or no longer holding it (:func:`~sealbox.service.deps.held_scopes`)."""
    wanted = tuple(dict.fromkeys(scopes))
    missing = missing_scopes(caller, wanted)
    if not missing:
        held = await held_scopes(runtime, caller)
        missing = [s for s in wanted if s not in held]
    if missing:
        raise insufficient_scope(tuple(missing), missing)


def _change(runtime: Runtime, request: Request, caller: Caller, event: str) -> ChangeRecord:
    """The record of a change of a client, written by its transaction (``before_commit``):
    one the log refuses changes nothing (503 ``audit_unavailable``)."""
    return ChangeRecord(runtime.audit, event, user=caller.username, address=_address(request))


def _holds(record: ChangeRecord) -> Callable[[ClientInfo], None]:
    # A change of scopes is recorded with what the client holds after it.
    return lambda c: record.write(detail=f"{c.name}; holds {' '.join(c.scopes) or 'no scope'}")


def _named(record: ChangeRecord) -> Callable[[ClientInfo], None]:
    return lambda c: record.write(detail=c.name)


def _scope_routes(api: APIRouter, admin: Any) -> None:
    """``GET /clients/{name}`` and the routes that grant and take back its scopes."""

    @api.get("/{name}", dependencies=[admin])
    async def show_client(name: str, runtime: RuntimeDep) -> dict[str, Any]:
        """One client (never its secret)."""
        try:
            return (await client_store(runtime).get(name)).to_dict()
        except ClientNotFoundError as exc:
            raise _not_found(exc) from None

    @api.post("/{name}/scopes")
    async def grant_scopes(
        name: str, body: ScopesIn, request: Request, runtime: RuntimeDep, caller: Caller = admin
    ) -> dict[str, Any]:
        """Grant scopes the caller holds to a client: its next token may carry them."""
        try:
            check_scopes(body.scopes)  # first, as at creation: a 403 quotes the scopes
        except ConfigError as exc:
            raise _config_error(exc) from None
        await _holds_all(runtime, caller, body.scopes)
        record = _change(runtime, request, caller, "client_grant")
        try:
            with record:
                client = await client_store(runtime).grant(
                    name, body.scopes, before_commit=_holds(record)
                )
        except ClientNotFoundError as exc:
            raise _not_found(exc) from None
        return client.to_dict()

    # A scope may hold a "/" (kv:read:secret/app), sent as it is or as %2F.
    @api.delete("/{name}/scopes/{scope:path}")
    async def revoke_scope(
        name: str, scope: str, request: Request, runtime: RuntimeDep, caller: Caller = admin
    ) -> dict[str, Any]:
        """Take a scope back: the client's next token lacks it, and the routes that look at
        what a caller still holds (the administrators') refuse its tokens that carry it at
        once."""
        record = _change(runtime, request, caller, "client_revoke")
        try:
            with record:
                client = await client_store(runtime).revoke(
                    name, [scope], before_commit=_holds(record)
                )
        except ClientNotFoundError as exc:
            raise _not_found(exc) from None
        except ConfigError as exc:
            raise _config_error(exc) from None
        return client.to_dict()


def _disable_routes(api: APIRouter, admin: Any) -> None:
    """``POST /clients/{name}/disable`` and ``…/enable``."""

    @api.post("/{name}/disable")
    async def disable_client(
        name: str, request: Request, runtime: RuntimeDep, caller: Caller = admin
    ) -> dict[str, Any]:
        """Disable a client: it no longer authenticates, and the access tokens it holds are
        refused at once (``"tokens_ended": "in part"`` when Redis failed once it was)."""
        missed: list[StoreUnavailableError] = []
        record = _change(runtime, request, caller, "client_disable")
        try:
            with record:
                client = await client_store(runtime).disable(
                    name, ender(runtime, missed), before_commit=_ended(record)
                )
        except ClientNotFoundError as exc:
            raise _not_found(exc) from None
        except ConfigError as exc:
            raise _config_error(exc) from None
        return client.to_dict() | tokens_ended(record, client.name, missed)

    @api.post("/{name}/enable")
    async def enable_client(
        name: str, request: Request, runtime: RuntimeDep, caller: Caller = admin
    ) -> dict[str, Any]:
        """Let a disabled client authenticate again (the tokens ended stay refused)."""
        record = _change(runtime, request, caller, "client_enable")
        try:
            with record:
                client = await client_store(runtime).enable(name, before_commit=_named(record))
        except ClientNotFoundError as exc:
            raise _not_found(exc) from None
        return client.to_dict()


def _ended(record: ChangeRecord) -> Callable[[ClientInfo], None]:
    # A change ending the tokens, recorded before they are ended (in its transaction).
    return lambda c: record.write(detail=f"{c.name}; tokens ended")


def _rotated(
    made: NewSecret, record: ChangeRecord, missed: list[StoreUnavailableError]
) -> JSONResponse:
    """A rotation's answer; ``missed`` (the sweep after the commit, ``ender``): the new
    secret is answered all the same, the tokens said ended ``in part``."""
    answer = tokens_ended(record, made.client.name, missed)
    secret = made.secret.expose_secret() if made.secret else None
    return JSONResponse(_with_secret(made.client, secret) | answer)


def _admin_router() -> APIRouter:
    # A JSON body giving a member twice is refused, as at /auth/register: a proxy reading
    # the first "scopes" and this service the last would judge different clients.
    api = APIRouter(prefix="/clients", tags=["clients"], route_class=StrictJSONRoute)
    admin = require_held_scopes(ADMIN_SCOPE)

    @api.get("", dependencies=[admin])
    async def list_clients(runtime: RuntimeDep) -> dict[str, Any]:
        """Every client (never a secret)."""
        return {"clients": [c.to_dict() for c in await client_store(runtime).list()]}

    @api.post("", status_code=201)
    async def create_client(
        body: NewClient, request: Request, runtime: RuntimeDep, caller: Caller = admin
    ) -> JSONResponse:
        """Register a client (its scopes among the caller's); the answer holds its
        secret, shown this once."""
        try:
            # Checked first: the 403 of a scope the caller lacks quotes it in its challenge,
            # which only a scope token (RFC 6749 §3.3) fits in.
            check_scopes(body.scopes)
        except ConfigError as exc:
            raise _config_error(exc) from None
        await _holds_all(runtime, caller, body.scopes)
        record = _change(runtime, request, caller, "client_create")
        try:
            with record:
                made = await client_store(runtime).create(
                    body.name,
                    body.scopes,
                    subject_dn=body.tls_client_auth_subject_dn,
                    with_secret=body.secret,
                    before_commit=_named(record),
                )
        except ConfigError as exc:
            raise _config_error(exc) from None
        secret = made.secret.expose_secret() if made.secret else None
        return JSONResponse(_with_secret(made.client, secret), status_code=201)

    _scope_routes(api, admin)

    @api.post("/{name}/rotate-secret")
    async def rotate_secret(
        name: str,
        request: Request,
        runtime: RuntimeDep,
        body: SecretRotation | None = None,
        caller: Caller = admin,
    ) -> JSONResponse:
        """A new secret for a client whose scopes the caller holds; the current one keeps
        working for ``overlap`` seconds (default 0). With ``revoke_tokens``, the access
        tokens issued before are refused at once."""
        overlap = body.overlap if body is not None else 0
        ending = body is not None and body.revoke_tokens
        store = client_store(runtime)
        missed: list[StoreUnavailableError] = []
        try:
            await _holds_all(runtime, caller, (await store.get(name)).scopes)
            end = ender(runtime, missed) if ending else None
            record = _change(runtime, request, caller, "client_rotate")
            with record:
                made = await store.rotate_secret(
                    name, overlap, end=end, before_commit=_ended(record) if end else _named(record)
                )
        except ClientNotFoundError as exc:
            raise _not_found(exc) from None
        except ConfigError as exc:
            raise _config_error(exc) from None
        return _rotated(made, record, missed)

    _disable_routes(api, admin)

    @api.delete("/{name}", status_code=204)
    async def delete_client(
        name: str, request: Request, runtime: RuntimeDep, caller: Caller = admin
    ) -> Response:
        """Remove a client: its credentials and its access tokens stop working at once, and
        so do the refresh tokens of the password logins it made (503
        ``revocation_incomplete`` when Redis failed once it was deleted)."""
        record = _change(runtime, request, caller, "client_delete")
        try:
            with record:
                missed = await delete_sweeping(
                    runtime, client_store(runtime), name, lambda c: record.write(detail=c.name)
                )
        except ClientNotFoundError as exc:
            raise _not_found(exc) from None
        if missed is not None:
            tokens_ended(record, name, [missed])
            raise partly_ended(name, missed)
        return Response(status_code=204)

    return api


def router() -> APIRouter:
    """The metadata documents, ``/auth/revoke``, ``/auth/introspect`` and ``/clients``."""
    api = APIRouter()

    async def authorization_server(request: Request, runtime: RuntimeDep) -> JSONResponse:
        """RFC 8414 authorization server metadata."""
        return JSONResponse(metadata(runtime, request))

    async def authorization_server_at_path(
        suffix: str, request: Request, runtime: RuntimeDep
    ) -> JSONResponse:
        """RFC 8414 §3.1: an issuer with a path has its document below the well-known name;
        the issuer's own path only (§3.3: the document's issuer is the one asked for)."""
        if "/" + suffix != _issuer_path(runtime.settings.issuer):
            raise HTTPException(404)
        return JSONResponse(metadata(runtime, request))

    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        api.add_api_route(path, authorization_server, methods=["GET"], tags=["service"])
    api.add_api_route(
        "/.well-known/oauth-authorization-server/{suffix:path}",
        authorization_server_at_path,
        methods=["GET"],
        include_in_schema=False,
    )
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
