"""The bearer dependency: ``Authorization: Bearer …`` in, typed claims out, scopes required.

:class:`BearerAuth` is FastAPI's ``OAuth2PasswordBearer`` (so the OpenAPI document has the
password flow and Swagger's **Authorize** button works) that also verifies the token,
in one dependency. Where the keys come from is its *source*:

- :class:`~sealbox.accounts.Accounts` — tokens this app issued itself: verified with its
  signing keyset, and refused once revoked, logged out, or their account's sessions end
  (the :class:`~sealbox.accounts.Caller` has the account's id);
- :class:`~sealbox.integrations.fastapi.sources.LocalJWKS` — a signing keyset or a JWKS
  file of another issuer;
- :class:`~sealbox.integrations.fastapi.sources.RemoteJWKS` — an issuer's JWKS URL, fetched
  without blocking the event loop.

Issuer and audience are always required. Over mutual TLS the source is given the
``x5t#S256`` thumbprint of the connection's client certificate, and a token bound to a
certificate (RFC 8705 §3, ``cnf``) is accepted only with that certificate. A missing token
is 401 ``not_authenticated``; a bad, expired, revoked or wrongly presented bound one 401
``invalid_token``; a token without a required scope 403
``insufficient_scope``; each with RFC 6750's ``WWW-Authenticate`` challenge. When the
issuer's key set cannot be fetched and none is at hand, the request is not the client's
fault: 503 ``keys_unavailable`` with ``Retry-After`` (a 401 would tell clients to drop a
good token and sign in again, at the moment the issuer is least able to take it).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Generic, Protocol, TypeVar, cast

from fastapi import Request, Security
from fastapi.openapi.models import OAuth2 as OAuth2Model
from fastapi.requests import HTTPConnection
from fastapi.security import OAuth2PasswordBearer, SecurityScopes

from sealbox.accounts.binding import thumbprint_from_digest
from sealbox.accounts.core import AccessClaims
from sealbox.accounts.scopes import check_scopes
from sealbox.exceptions import StoreUnavailableError, TokenError
from sealbox.integrations.fastapi.client_cert import (
    PEER_STATE_KEY,
    client_identity,
    scope_client_identity,
)
from sealbox.integrations.fastapi.errors import ApiError, ErrorCode, store_unavailable
from sealbox.tls.server_session import ClientIdentity

__all__ = [
    "BearerAuth",
    "TokenSource",
    "authorization",
    "bearer_token",
    "connection_thumbprint",
    "identity_thumbprint",
    "insufficient_scope",
    "invalid_token",
    "missing_scopes",
    "token_refused",
]

C = TypeVar("C", bound=AccessClaims)
C_co = TypeVar("C_co", bound=AccessClaims, covariant=True)

log = logging.getLogger("sealbox.integrations.fastapi")

#: Seconds a client is told to wait (``Retry-After``) when the key set cannot be fetched,
#: unless the source says when its next fetch may be tried (fact ``retry_after``).
KEYS_RETRY_AFTER: Final = 30
#: The longest wait told, whatever the source says: a source with a long refresh interval
#: must not send clients away for longer than an outage is worth waiting out.
_KEYS_RETRY_AFTER_MAX: Final = 300
# Codes of a source that could not fetch the key set (sealbox.jwt's), not of a bad token.
_KEYS_UNAVAILABLE: Final = frozenset({"jwks_unreachable", "jwks_unverified", "pin_mismatch"})
_BEARER_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
_BEARER_MALFORMED = {"WWW-Authenticate": 'Bearer error="invalid_request"'}
# What BearerAuth checks when called outside FastAPI (``await auth(request)``): no scope.
_NO_SCOPES: Final = SecurityScopes()


class TokenSource(Protocol[C_co]):
    """Whatever turns an access token into verified claims (or raises ``TokenError``).

    A source may also have ``authenticate_now(token, *, thumbprint=None)``: the same
    answer without a coroutine, or ``None`` when it needs a wait (then ``authenticate``
    is awaited). :meth:`BearerAuth.require`'s dependency asks it first: a coroutine is a
    share of a guarded request worth saving. :class:`~sealbox.accounts.Accounts` has one.
    """

    def authenticate(self, token: str, *, thumbprint: str | None = None) -> Awaitable[C_co]:
        """The verified claims of ``token``.

        ``thumbprint`` is the ``x5t#S256`` of the connection's client certificate; it is
        passed only over mutual TLS. A token bound to a certificate (``cnf``) is refused
        unless ``thumbprint`` is that certificate's.

        Raises:
            TokenError: not a valid token for this source (code ``token_revoked`` when
                it was revoked, ``token_binding_mismatch`` for a bound token presented
                without its certificate).
        """
        ...


def invalid_token(message: str = "the access token is not valid") -> ApiError:
    """401 ``invalid_token`` with its challenge."""
    return ApiError(401, ErrorCode.INVALID_TOKEN, message, headers=_BEARER_INVALID)


def token_refused(exc: TokenError) -> ApiError:
    """The 401 ``invalid_token`` answering a token the source refused, saying why when it
    may; 503 ``keys_unavailable`` when the source could not get the keys to check it."""
    if exc.code in _KEYS_UNAVAILABLE:
        log.warning("answered 503: cannot verify access tokens: %s", exc)
        return ApiError(
            503,
            ErrorCode.KEYS_UNAVAILABLE,
            "the keys that verify access tokens cannot be fetched: try again later",
            headers={"Retry-After": str(_keys_retry_after(exc))},
        )
    if exc.code == "token_revoked":
        return invalid_token("the access token was revoked")
    if exc.code == "token_binding_mismatch":
        # Which certificate it lacks, in sealbox's words only (a source may be the app's).
        none = str(exc).endswith("none was presented")
        return invalid_token(
            "the access token is bound to a client certificate, and none was presented"
            if none
            else "the access token is bound to another client certificate"
        )
    return invalid_token()


def _keys_retry_after(exc: TokenError) -> int:
    """The ``Retry-After`` of a 503 ``keys_unavailable``: when the source may fetch the key
    set again (its fact ``retry_after``: a remote set whose last fetch failed), in whole
    seconds from 1 to 300; :data:`KEYS_RETRY_AFTER` when it does not say (no set fetched
    yet, a source of the app's own)."""
    try:
        wait = float(exc.facts["retry_after"])
    except (KeyError, ValueError):
        return KEYS_RETRY_AFTER
    if not math.isfinite(wait):
        return KEYS_RETRY_AFTER
    # 0 is a fetch due now, which only the next request can make: come back in a second.
    return min(max(math.ceil(wait), 1), _KEYS_RETRY_AFTER_MAX)


def connection_thumbprint(request: HTTPConnection) -> str | None:
    """The ``x5t#S256`` of the connection's verified client certificate (mTLS), or ``None``."""
    return identity_thumbprint(client_identity(request))


def identity_thumbprint(identity: ClientIdentity | None) -> str | None:
    """The ``x5t#S256`` of a verified client certificate (``None`` without one)."""
    if identity is None:
        return None
    return thumbprint_from_digest(bytes.fromhex(identity.fingerprint))


async def _authenticate(source: TokenSource[C], request: HTTPConnection, token: str) -> C:
    thumbprint = connection_thumbprint(request)
    try:
        if thumbprint is None:
            # Without a client certificate, sources that know nothing of binding work too
            # (and refuse bound tokens, when they know of it).
            return await source.authenticate(token)
        return await source.authenticate(token, thumbprint=thumbprint)
    except TokenError as exc:
        raise token_refused(exc) from None
    except StoreUnavailableError as exc:
        # Redis or the database of the app's accounts not answering: an ApiError, so an
        # app without sealbox's error handlers answers 503 as well, not 500.
        raise store_unavailable(exc) from None


def bearer_token(header: str) -> str:
    """The token of an ``Authorization: Bearer …`` header value.

    Raises:
        ApiError: 401 ``not_authenticated`` when there is none.
    """
    scheme, _, token = header.partition(" ")
    # Spaces alone after the scheme are no token either: the same 401 as none at all, not
    # an ``invalid_token`` for a token the client never sent.
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _not_authenticated()
    return token


def authorization(scope: Mapping[str, Any]) -> str:
    """The request's ``Authorization`` header (``""`` without one).

    Raises:
        ApiError: 400 ``invalid_request`` for a request with two of them (RFC 6750 §3.1).
    """
    found = _authorization(scope)
    return "" if found is None else found.decode("latin-1")


def _authorization(scope: Mapping[str, Any]) -> bytes | None:
    # The ASGI scope's headers, read directly: their names are lower case (ASGI), and this
    # runs on every guarded request.
    found: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if found is not None:
                # A singleton field (RFC 9110 §11.6.2): taking either of two would let a
                # proxy and this app each act on a different credential.
                raise ApiError(
                    400,
                    ErrorCode.INVALID_REQUEST,
                    "the request has more than one Authorization header",
                    headers=_BEARER_MALFORMED,
                )
            found = value
    return found


def _not_authenticated() -> ApiError:
    return ApiError(
        401,
        ErrorCode.NOT_AUTHENTICATED,
        "a bearer access token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )


def missing_scopes(claims: AccessClaims, needed: tuple[str, ...]) -> list[str]:
    """The scopes of ``needed`` that ``claims`` lacks."""
    return [s for s in needed if s not in claims.scopes]


def insufficient_scope(needed: tuple[str, ...], missing: list[str]) -> ApiError:
    """403 ``insufficient_scope`` with RFC 6750 §3.1's challenge naming the scopes needed."""
    challenge = f'Bearer error="insufficient_scope", scope="{" ".join(needed)}"'
    return ApiError(
        403,
        ErrorCode.INSUFFICIENT_SCOPE,
        f"this needs the scope {' '.join(missing)}",
        headers={"WWW-Authenticate": challenge},
    )


class BearerAuth(OAuth2PasswordBearer, Generic[C]):
    """The bearer dependency (see the module docstring).

    Args:
        source: a :class:`TokenSource`, or a function of the request (on a websocket
            route, the websocket) that returns one (for a source opened in the app's
            lifespan, kept on ``app.state``).
        token_url: the token endpoint that Swagger's **Authorize** posts to.
        scopes: scope names and descriptions, for the OpenAPI document (a scope that
            :meth:`require` names is listed there too, without a description).
        description: the security scheme's description.
        scheme_name: the security scheme's name in the OpenAPI document.

    Use it as a dependency for the claims, on HTTP and websocket routes alike (a
    refusal is then the handshake's HTTP answer, where the server takes one), and
    :meth:`require` for scopes::

        auth = BearerAuth(lambda request: request.app.state.accounts)

        @app.get("/me")
        async def me(caller: Annotated[Caller, Depends(auth)]): ...

        @app.get("/orders")
        async def orders(caller: Annotated[Caller, auth.require("orders:read")]): ...

    FastAPI's own way, ``Security(auth, scopes=["orders:read"])`` (or a ``Security``
    around a dependency of yours that takes ``auth``), is checked the same way; it costs
    FastAPI a ``SecurityScopes`` object per request, which :meth:`require` does without.
    """

    def __init__(
        self,
        source: TokenSource[C] | Callable[[Request], TokenSource[C]],
        *,
        token_url: str = "/auth/token",  # noqa: S107 - a URL, not a secret
        scopes: dict[str, str] | None = None,
        description: str | None = None,
        scheme_name: str = "OAuth2PasswordBearer",
    ) -> None:
        self._options: dict[str, Any] = {
            "tokenUrl": token_url,
            "scopes": scopes,
            "description": description,
            "scheme_name": scheme_name,
        }
        super().__init__(**self._options, auto_error=True)
        if hasattr(source, "authenticate"):
            fixed: TokenSource[C] = source
            # Called with the route's request, or its websocket on a websocket route.
            self._source: Callable[[Any], TokenSource[C]] = lambda _request: fixed
        else:
            self._source = source
        self._needed: tuple[str, ...] = ()

    async def __call__(  # type: ignore[override]
        self, request: HTTPConnection, security_scopes: SecurityScopes = _NO_SCOPES
    ) -> C:
        # The header first, then the source, as the routes have always checked them (and
        # as :meth:`require`'s dependency does, inlined there).
        token = bearer_token(authorization(request.scope))
        claims = await _authenticate(self._source(request), request, token)
        # The scopes FastAPI gathered for this use of the dependency (``Security(auth,
        # scopes=[…])``, or a Security around a dependency that takes it): the OpenAPI
        # document says the route needs them, so they are checked.
        needed = security_scopes.scopes
        if needed and not claims.scopes.issuperset(needed):
            raise self._refusal(request, claims, tuple(needed))
        return claims

    def _refusal(self, request: HTTPConnection, claims: C, needed: tuple[str, ...]) -> ApiError:
        """The 403 for ``claims`` lacking some of ``needed``: its challenge names every
        scope the route asks of this bearer (RFC 6750 §3.1: what the resource needs), as
        a route may ask in several places, each checked on its own."""
        needed = _route_scopes(request, self._source, needed)
        return insufficient_scope(needed, missing_scopes(claims, needed))

    async def verify(self, request: HTTPConnection, token: str) -> C:
        """The claims of ``token`` (for code that found it elsewhere than the header)."""
        return await _authenticate(self._source(request), request, token)

    def require(self, *needed: str) -> Any:
        """The dependency of a route that only callers holding every scope in ``needed`` pass.

        Use it as the metadata of the claims' annotation
        (``Annotated[Caller, auth.require("orders:read")]``); it answers the claims, like
        the bearer dependency, in one step (one dependency, not two), and names the
        scopes in the route's OpenAPI security requirement. It checks ``needed`` alone:
        scopes that a ``Security`` around a dependency of yours that takes it names are
        not checked by it (use the bearer itself there, which checks them).

        Raises:
            ConfigError: a name is no RFC 6749 §3.3 ``scope-token`` (code
                ``invalid_scope``): one with a space (``"orders:read orders:write"`` is
                two scopes, given as two arguments), quote, backslash or character outside
                printable ASCII, which no token's ``scope`` claim could hold.
        """
        if needed:
            # Refused when the route is made: such a name would be a 403 for every caller,
            # and a quote in it would end the challenge's quoted ``scope`` early.
            check_scopes(needed, granting=False)
        scoped: _ScopedBearer[C] = _ScopedBearer(self._source, **_public(self._options))
        scoped._needed = tuple(needed)
        # The security scheme lists the scopes routes require, so Swagger's Authorize
        # offers them: one scheme object for the bearer and all its requirements (the
        # OpenAPI document shows one of them under the scheme's name).
        flow = cast(OAuth2Model, self.model).flows.password
        declared = flow.scopes if flow is not None else {}
        for name in needed:
            declared.setdefault(name, "")
        scoped.model = self.model
        return _request_scoped(Security(scoped, scopes=list(needed)))


class _ScopedBearer(BearerAuth[C]):
    """The dependency :meth:`BearerAuth.require` answers: its scopes are fixed when the
    route is made, so it takes no ``SecurityScopes`` (which FastAPI would build for every
    request). Scopes a ``Security`` around a dependency that takes it names are not
    checked by it: name them in :meth:`~BearerAuth.require`.
    """

    async def __call__(self, request: HTTPConnection) -> C:  # type: ignore[override]
        # _authenticate, inlined, with the source's answer without waiting where it has
        # one: this runs on every guarded request.
        scope = request.scope
        token = bearer_token(authorization(scope))
        source = self._source(request)
        thumbprint = _scope_thumbprint(scope)
        try:
            kind = type(source)
            now = _NOW[kind] if kind in _NOW else _now_of(kind)
            claims = None if now is None else now(source, token, thumbprint=thumbprint)
            if claims is None:
                if thumbprint is None:
                    claims = await source.authenticate(token)
                else:
                    claims = await source.authenticate(token, thumbprint=thumbprint)
        except TokenError as exc:
            raise token_refused(exc) from None
        except StoreUnavailableError as exc:
            raise store_unavailable(exc) from None
        if self._needed and not claims.scopes.issuperset(self._needed):
            raise self._refusal(request, claims, self._needed)
        return claims


# A source's ``authenticate_now(token, *, thumbprint=None)``, by the source's type: the
# claims without a coroutine, or ``None`` when they need a wait (then ``authenticate`` is
# awaited). :class:`~sealbox.accounts.Accounts` has one. Looked up once per type: a
# failed attribute lookup costs more than the rest of a guarded request's check.
_NOW: dict[type, Callable[..., Any] | None] = {}


def _now_of(kind: type) -> Callable[..., Any] | None:
    found = getattr(kind, "authenticate_now", None)
    _NOW[kind] = found if callable(found) else None
    return _NOW[kind]


def _scope_thumbprint(scope: Mapping[str, Any]) -> str | None:
    """:func:`connection_thumbprint` of a request's scope, at once ``None`` where the
    server said nothing of a client certificate (no identity in the state, no ASGI
    extensions): this runs on every guarded request."""
    state = scope.get("state")
    if (state and PEER_STATE_KEY in state) or scope.get("extensions"):
        return identity_thumbprint(scope_client_identity(scope))
    return None


def _route_scopes(
    request: HTTPConnection, source: Callable[[Any], Any], needed: tuple[str, ...]
) -> tuple[str, ...]:
    """The scopes that the request's route asks of the bearer over ``source`` (its
    ``Security(…, scopes=…)`` and :meth:`~BearerAuth.require` uses), in the route's order,
    each once, with ``needed`` (alone, outside a FastAPI route)."""
    names: list[str] = []
    top = getattr(request.scope.get("route"), "dependant", None)
    pending: list[Any] = [] if top is None else [top]
    for dependant in pending:  # breadth first: the route's parameters in their order
        pending.extend(getattr(dependant, "dependencies", ()))
        call = getattr(dependant, "call", None)
        if isinstance(call, BearerAuth) and call._source is source:
            names.extend(call._needed if isinstance(call, _ScopedBearer) else _scopes_of(dependant))
    return tuple(dict.fromkeys([*names, *needed]))


def _scopes_of(dependant: Any) -> list[str]:
    """The scopes FastAPI gathers for a use of a dependency: its own and its parents'."""
    gathered = getattr(dependant, "security_scopes", None)  # older FastAPI (0.115)
    if isinstance(gathered, list):
        return gathered
    parents = getattr(dependant, "parent_oauth_scopes", None) or []
    return [*parents, *(getattr(dependant, "own_oauth_scopes", None) or [])]


def _request_scoped(dependency: Any) -> Any:
    """``dependency`` with FastAPI's dependency scope ``"request"``, where FastAPI has one.

    A dependency's scope matters to FastAPI only for one that yields; left unset, FastAPI
    works it out for every request, classifying the callable again (two cached lookups,
    about a microsecond). Set here, that work is skipped: the one per-request cost of the
    dependency that sealbox controls. FastAPI 0.115 has no scope, and keeps its dependency.
    """
    if not dataclasses.is_dataclass(dependency) or not hasattr(dependency, "scope"):
        return dependency
    return dataclasses.replace(cast(Any, dependency), scope="request")


def _public(options: dict[str, Any]) -> dict[str, Any]:
    return {
        "token_url": options["tokenUrl"],
        "scopes": options["scopes"],
        "description": options["description"],
        "scheme_name": options["scheme_name"],
    }


# Older FastAPI (0.115) resolves a callable object's string annotations without any
# globals, and would read `request` as a query parameter: give it the real types.
# HTTPConnection, not Request: FastAPI hands a websocket route's dependency its WebSocket
# under that annotation only (under Request, it was called without one: a TypeError).
BearerAuth.__call__.__annotations__ = {
    "request": HTTPConnection,
    "security_scopes": SecurityScopes,
    "return": Any,
}
_ScopedBearer.__call__.__annotations__ = {"request": HTTPConnection, "return": Any}
