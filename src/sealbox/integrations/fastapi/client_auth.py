"""OAuth 2 client authentication at the token endpoint, and the client credentials grant.

A client authenticates with HTTP Basic (``client_secret_basic``), ``client_id`` and
``client_secret`` in the form (``client_secret_post``), or the verified certificate of a
mutual-TLS connection with ``client_id`` in the form (RFC 8705 ``tls_client_auth``),
against :attr:`Accounts.clients <sealbox.accounts.core.Accounts.clients>`. A failure is
``401 invalid_client`` with ``WWW-Authenticate: Basic``; which part was wrong is never said,
and the audit sink gets the client id only. The decisions are
:mod:`sealbox.accounts.grants`'s.

Every client authentication counts against the client address, with the login throttle's
limit and store, before its credentials are checked: past the limit the answer is 429
``too_many_requests`` with ``Retry-After`` (as a throttled login's), and a success gives
its own count back (:func:`~sealbox.accounts.grants.authenticate_client_attempt`). The
revocation and introspection endpoints of ``sealbox serve`` authenticate through
:func:`authenticate_client_request` too.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection
from typing import Any, Final
from urllib.parse import unquote_plus

from fastapi import Request

from sealbox.accounts.attempts import Throttled
from sealbox.accounts.audit import AuditUnavailableError
from sealbox.accounts.clients import CLIENT_ID_PREFIX, ClientInfo
from sealbox.accounts.core import Accounts
from sealbox.accounts.grants import (
    ClientAuthError,
    ScopeNotGrantedError,
    authenticate_client_attempt,
    issue_client_token,
)
from sealbox.integrations.fastapi.bearer import connection_thumbprint
from sealbox.integrations.fastapi.client_cert import client_identity
from sealbox.integrations.fastapi.errors import ApiError, ErrorCode, audit_unavailable

__all__ = [
    "BASIC_CHALLENGE",
    "authenticate_client_request",
    "basic_credentials",
    "client_credentials_grant",
    "grant_client",
    "invalid_client",
    "oauth_error",
    "presents_secret",
    "refuse_non_form",
    "refuse_repeated_parameters",
    "too_many_attempts",
]

# The token endpoint's challenge (RFC 6749 §2.3.1, RFC 7617), on each of its 401 answers:
# ``invalid_client`` here, and ``mfa_required`` in :mod:`sealbox.integrations.fastapi.router`.
BASIC_CHALLENGE: Final = 'Basic realm="sealbox", charset="UTF-8"'
_FORM: Final = "application/x-www-form-urlencoded"
# The parameters of the token, revocation and introspection endpoints that carry a secret,
# refused in the URI's query.
_URI_CREDENTIALS: Final = frozenset({"client_secret", "otp", "password", "refresh_token", "token"})
# A parameter name an error may repeat.
_NAME: Final = re.compile(r"[a-z_]{1,40}")
# What the audit log names after a failed client authentication: a client id, as the store
# makes them. Anything else in the client id's place (a secret sent in its stead, a
# password) is not written down.
_CLIENT_ID: Final = re.compile(re.escape(CLIENT_ID_PREFIX) + r"[A-Za-z0-9_-]{1,124}")
# A character RFC 6749 §5.2 allows in no error_description: outside %x20-21 / %x23-5B /
# %x5D-7E (so any control character, non-ASCII character, quote or backslash).
_DESCRIPTION_UNSAFE: Final = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def oauth_error(status: int, code: str, message: str, **headers: str) -> ApiError:
    """An RFC 6749 §5.2 error: ``error`` and ``error_description``, beside sealbox's message.

    ``error_description`` is ``message`` in the characters §5.2 allows it (printable
    ASCII but ``"`` and ``\\``): a message quoting what was sent (a scope asked for)
    may hold others, which ``message`` keeps and the description replaces.
    """
    return ApiError(
        status,
        code,
        message,
        headers=headers or None,
        extra={"error_description": _DESCRIPTION_UNSAFE.sub(_description_char, message)},
    )


def _description_char(match: re.Match[str]) -> str:
    return {'"': "'", "\\": "/"}.get(match.group(), "?")


def invalid_client(message: str = "client authentication failed") -> ApiError:
    """401 ``invalid_client`` with the ``Basic`` challenge."""
    return oauth_error(
        401, ErrorCode.INVALID_CLIENT, message, **{"WWW-Authenticate": BASIC_CHALLENGE}
    )


def too_many_attempts(wait: int, *, oauth: bool = True) -> ApiError:
    """429 ``too_many_requests`` with ``Retry-After``: the answer to a throttled attempt, a
    login's or a client authentication's at the token endpoint (an RFC 6749 §5.2 error),
    a registration's or a password change's with ``oauth=False`` (sealbox's error alone).

    .. versionchanged:: 0.1.0
       ``oauth``.
    """
    message = "too many attempts; try again later"
    if oauth:
        return oauth_error(429, ErrorCode.TOO_MANY_REQUESTS, message, **{"Retry-After": str(wait)})
    return ApiError(429, ErrorCode.TOO_MANY_REQUESTS, message, headers={"Retry-After": str(wait)})


def refuse_non_form(request: Request, what: str = "this endpoint", **headers: str) -> None:
    """Refuse a body that is no form (400 ``invalid_request``, with ``headers``): RFC 6749
    §3.2, RFC 7009 §2.1 and RFC 7662 §2.1 take ``application/x-www-form-urlencoded`` only.

    A credential in the URI's query (``client_secret``, ``password``, ``refresh_token``…)
    is refused the same way, whatever the body holds: RFC 6749 §2.3.1 says client
    credentials "MUST NOT be included in the request URI", which proxies and browsers
    keep. Ignored, it would let the request pass on other credentials, or as the public
    client, and the client would go on sending its secret in URLs.

    .. versionchanged:: 0.1.0
       A credential in the query is refused.
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM:
        raise oauth_error(400, ErrorCode.INVALID_REQUEST, f"{what} takes {_FORM}", **headers)
    # Names as decoded (client%5Fsecret is client_secret); only the names are repeated.
    in_query = sorted(_URI_CREDENTIALS.intersection(request.query_params.keys()))
    if in_query:
        named = ", ".join(in_query)
        raise oauth_error(
            400,
            ErrorCode.INVALID_REQUEST,
            f"{named} in the URI: send credentials in the body",
            **headers,
        )


async def refuse_repeated_parameters(
    request: Request, names: Collection[str] | None = None
) -> None:
    """Refuse a form that names a parameter twice (RFC 6749 §3.2: parameters "MUST NOT be
    included more than once"; §5.2 calls that ``invalid_request``). A form parser keeps
    one of the two, so a proxy and this service could each act on a different value.

    ``names``: the parameters the endpoint reads; any other is ignored, repeated or not,
    as §3.2 has the server ignore what it does not recognise (RFC 8707 lets a client send
    ``resource`` more than once). ``None``: every parameter.

    Raises:
        ApiError: 400 ``invalid_request`` naming the parameters (when they look like names).

    .. versionchanged:: 0.1.0
       ``names``.
    """
    form = await request.form()  # parsed once: Starlette keeps it for the route
    seen: set[str] = set()
    repeated: set[str] = set()
    for name, _ in form.multi_items():
        if names is None or name in names:
            (repeated if name in seen else seen).add(name)
    if repeated:
        named = sorted(repeated)
        shown = ", ".join(named) if all(_NAME.fullmatch(n) for n in named) else "a parameter"
        raise oauth_error(400, ErrorCode.INVALID_REQUEST, f"{shown} given more than once")


def presents_secret(request: Request, client_secret: str) -> bool:
    """Whether the request carries a client secret (the form's, or in a Basic header).

    A Basic header with no secret is not one: Swagger UI's password flow sends
    ``Basic Og==`` (an empty id and secret) when no client is filled in.
    """
    if client_secret:
        return True
    try:
        basic = basic_credentials(request)
    except ApiError:
        return False  # no client id: nothing that names a client to check
    return basic is not None and bool(basic[1])


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: ``Basic base64(urlencode(id) ":" urlencode(secret))``, decoded.

    Raises:
        ApiError: 401 ``invalid_client`` for a Basic header that does not decode; 400
            ``invalid_request`` for two ``Authorization`` headers (RFC 6749 §2.3: one
            method, one set of credentials; a proxy and this service could read another).
    """
    headers = request.headers.getlist("authorization")
    if len(headers) > 1:
        raise oauth_error(400, ErrorCode.INVALID_REQUEST, "authorization given more than once")
    if not headers:
        return None
    header = headers[0]
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8
        raise invalid_client() from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise invalid_client()
    # application/x-www-form-urlencoded (RFC 6749 Appendix B): "+" is a space.
    return unquote_plus(client_id), unquote_plus(secret)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _record(
    accounts: Accounts, event: str, *, outcome: str, user: str | None, address: str, **more: Any
) -> None:
    """Write an audit record; a log that cannot take it is the :class:`ApiError` 503
    ``audit_unavailable``, so that a route of an app's own that calls these answers it
    without sealbox's error handlers too (it was an unhandled 500)."""
    try:
        accounts.audit.record(event, outcome=outcome, user=user, address=address, **more)
    except AuditUnavailableError:
        raise audit_unavailable() from None


async def authenticate_client_request(
    accounts: Accounts, request: Request, client_id: str, client_secret: str
) -> ClientInfo | None:
    """The client the request authenticates as, or ``None`` when it does not try.

    Raises:
        ApiError: 401 ``invalid_client`` (audited), 400 ``invalid_request`` for two
            methods at once; 401 ``invalid_client`` when the accounts have no clients;
            429 ``too_many_requests`` past the address's limit (audited, nothing checked);
            503 ``audit_unavailable``, an audit log that cannot take the refusal's record.
    """
    identity = client_identity(request)
    basic = basic_credentials(request)
    if accounts.clients is None:
        if basic is None and not client_id and not client_secret:
            return None
        raise invalid_client()
    # The client id only (it is not a secret), when it has a client id's shape.
    named = basic[0] if basic is not None else client_id
    audited = named if _CLIENT_ID.fullmatch(named) else None
    address = _address(request)
    try:
        return await authenticate_client_attempt(
            accounts,
            address,
            basic=basic,
            client_id=client_id or None,
            client_secret=client_secret or None,
            subject_dn=identity.subject if identity is not None else None,
        )
    except Throttled as exc:
        _record(accounts, "client_auth", outcome="throttled", user=audited, address=address)
        raise too_many_attempts(exc.retry_after) from None
    except ClientAuthError as exc:
        _record(
            accounts,
            "client_auth",
            outcome="failure",
            user=audited,
            address=address,
            # Set only past right credentials (a disabled client): the log may say why.
            detail=exc.facts.get("reason"),
        )
        if exc.code == "invalid_request":
            raise oauth_error(400, ErrorCode.INVALID_REQUEST, str(exc)) from None
        raise invalid_client() from None


async def _names_registered_client(accounts: Accounts, request: Request, client_id: str) -> bool:
    """Whether the request names a registered client (the form's ``client_id``, or the id
    of a Basic header), with or without credentials."""
    if accounts.clients is None:
        return False
    try:
        basic = basic_credentials(request)
    except ApiError:
        basic = None  # no id that names a client: the grant answers on its own
    named = client_id or (basic[0] if basic is not None else "")
    return bool(named) and await accounts.clients.by_client_id(named) is not None


async def grant_client(
    accounts: Accounts, request: Request, client_id: str, client_secret: str
) -> ClientInfo | None:
    """The registered client a password or refresh grant is made by, as it authenticated
    (its session version: a login's family is stored only while it holds), or ``None``
    for the public first-party client.

    Credentials sent are checked, whatever the grant (RFC 6749 §3.2.1): a wrong secret is
    ``invalid_client``, never ignored. A registered client was issued credentials, so one
    the request names must authenticate (§4.3.2, §6), by its secret or over mutual TLS by
    its certificate; named by its ``client_id`` alone it is ``invalid_client``, not taken
    for the first-party client. Any other ``client_id`` names the first-party client and
    is not checked (an app's own label, as Swagger UI may send).

    Raises:
        ApiError: 401 ``invalid_client``, 400 ``invalid_request`` (two methods at once).
    """
    if not presents_secret(request, client_secret) and not await _names_registered_client(
        accounts, request, client_id
    ):
        return None
    client = await authenticate_client_request(accounts, request, client_id, client_secret)
    if client is None:
        raise invalid_client("a registered client must authenticate")
    return client


async def client_credentials_grant(
    accounts: Accounts, request: Request, client_id: str, client_secret: str, scopes: list[str]
) -> dict[str, Any]:
    """The client credentials grant (RFC 6749 §4.4): the token endpoint's answer, as a dict.

    An access token (bound to the client certificate over mutual TLS), no refresh token.

    Raises:
        ApiError: 401 ``invalid_client``, 400 ``invalid_scope``, 503 ``audit_unavailable``
            (the token signed is dropped: none is stored, so nothing changed).
    """
    client = await authenticate_client_request(accounts, request, client_id, client_secret)
    if client is None:
        raise invalid_client("the client credentials grant needs client authentication")
    p = accounts.policy
    try:
        issued = issue_client_token(
            accounts.keyset,
            client,
            scopes,
            issuer=p.issuer,
            audience=p.audience,
            ttl=p.access_token_ttl,
            thumbprint=connection_thumbprint(request),
        )
    except ScopeNotGrantedError as exc:
        raise oauth_error(400, ErrorCode.INVALID_SCOPE, str(exc)) from None
    _record(
        accounts,
        "client_token",
        outcome="success",
        user=client.client_id,
        address=_address(request),
    )
    answer: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
    }
    # A client holding no scope is granted none: RFC 6749 §3.3 has no empty scope, and
    # §5.1 lets the member be left out.
    if issued.scope:
        answer["scope"] = " ".join(issued.scope)
    return answer
