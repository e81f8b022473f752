"""The entry of the Vault-shaped API: an ASGI layer in front of sealbox's routes.

It takes the requests whose path is Vault's (``/v1/transit/…``, ``/v1/<kv mount>/…``,
``/v1/auth/token/…``, ``/v1/sys/…``; any other ``/v1/`` path but sealbox's own
``/v1/keys/…`` too, answered as Vault's router answers a path under no mount) and passes
every other one on, untouched. Vault's paths carry names with slashes (a secret's
path), a ``LIST`` method (sent as ``GET`` with ``list=true``, which Vault reads as
``LIST``; the connection layer rewrites the request line for the HTTP parser) and their
own error shape, so this layer dispatches itself rather than through FastAPI's router,
and the transit operations, the hot path, skip the router's matching and dependency
solving.

It sits inside the body limit and the security headers.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import re
from typing import Final
from urllib.parse import unquote_to_bytes

from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sealbox.service.routes.transit import HANDLERS
from sealbox.service.runtime import Runtime
from sealbox.service.vault.auth import caller_of, refuse_wrapping
from sealbox.service.vault.errors import TOO_LARGE, VaultError, vault_refusal
from sealbox.service.vault.kv_routes import kv_route, single_param
from sealbox.service.vault.kv_store import KVStore
from sealbox.service.vault.sys import OPEN_ROUTES, mount_of
from sealbox.service.vault.text_fields import typed
from sealbox.service.vault.token import token_route
from sealbox.service.vault.transit import manage, operate, parse_body
from sealbox.transit.registry import is_key_name

__all__ = ["VaultApi"]


TRANSIT_PREFIX: Final = "/v1/transit/"
# The operations whose path may name an algorithm (Vault's hmac/:name/:algorithm,
# sign|verify/:name/:hash_algorithm); another's path with a third segment is no path.
_WITH_ALGORITHM: Final = ("hmac", "sign", "verify")
_OPERATION: Final = re.compile(
    r"/v1/transit/(?:(datakey)/(plaintext|wrapped)/([^/]+)"
    r"|("
    + "|".join(op for op in HANDLERS if op != "datakey" and op not in _WITH_ALGORITHM)
    + r")/([^/]+)"
    r"|(" + "|".join(_WITH_ALGORITHM) + r")/([^/]+)(?:/([^/]+))?)"
)
# sealbox's own transit API (/v1/keys/…); every other /v1/ path is Vault's.
_NATIVE: Final = "keys"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The methods Vault has an operation for. Vault turns the method into its operation before
# it reads the token, so any other method is 405 whatever the token; one of these is
# checked against the token first, then against what the path takes.
_VAULT_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "LIST", "OPTIONS"}
)
# The methods whose JSON body Vault parses while it builds the request, before its core
# reads the token or finds the path: a body that is not JSON is refused first. (It reads
# a DELETE's fields from the query, never from the body.)
_PARSED_FIRST: Final = frozenset({"POST", "PUT"})
#: A key of the ASGI scope: ServiceApp serves a HEAD as its GET and marks that GET with
#: it. Vault's HEAD is an operation of its own (its header operation), which no engine
#: sealbox speaks for takes, so the Vault API reads such a GET as the HEAD it was.
HEAD_AS_GET: Final = "sealbox.head"
_UNSUPPORTED: Final = "unsupported operation"
_NULL_SPACE: Final = 64  # a null body with room for whitespace around it
_JSON_SPACE: Final = b" \t\r\n"


class VaultApi:
    """Answer Vault's paths; pass the rest on.

    Args:
        app: the application inside.
        kv_mounts: the mounts of the KV v2 engine (``("secret",)``).
    """

    def __init__(self, app: ASGIApp, *, kv_mounts: tuple[str, ...] = ("secret",)) -> None:
        self.app = app
        self.kv_mounts = frozenset(kv_mounts)
        self._kv: tuple[Runtime, KVStore] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(TRANSIT_PREFIX) and scope["method"] in ("POST", "PUT"):
                match = _OPERATION.fullmatch(path)
                if match is not None:
                    await self._operate(match, scope, receive, send)
                    return
            if path.startswith("/v1/"):
                first = path[4:].partition("/")[0]
                if first != _NATIVE:
                    # Every other /v1/ path is Vault's, mounted or not: one no engine
                    # serves is answered as Vault answers it, in its shape.
                    await self._serve(first, path, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _store(self, runtime: Runtime) -> KVStore:
        held = self._kv
        if held is None or held[0] is not runtime:
            store = KVStore(
                async_sessionmaker(runtime.engine, expire_on_commit=False),
                runtime.data.master_key(),
            )
            held = self._kv = (runtime, store)
        return held[1]

    @staticmethod
    async def _operate(match: re.Match[str], scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await _operation(match, request)
        except Exception as exc:
            refused = await _refusal(request, exc)
            if refused is None:
                raise
            response = refused
        await response(scope, receive, send)

    async def _serve(
        self, first: str, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        request = Request(scope, receive)
        try:
            response = await self._route(first, path, request)
        except Exception as exc:
            refused = await _refusal(request, exc)
            if refused is None:
                raise
            response = refused
        await response(scope, receive, send)

    async def _route(self, first: str, path: str, request: Request) -> Response:
        parts = path[4:].strip("/").split("/")[1:]
        method = request.method
        if method == "GET" and request.scope.get(HEAD_AS_GET):
            method = "HEAD"
        if first == "sys" and len(parts) == 1 and parts[0] in OPEN_ROUTES:
            return _open_sys(parts[0], method, request.query_params)
        # Vault's LIST operation: the LIST method (an ASGI server that lets it through),
        # or GET with a true list= (any of Vault's spellings: list=1 too). It stays LIST:
        # a path that lists nothing answers 405, as Vault's do, never its read.
        listing = method == "LIST" or (method == "GET" and _list_asked(request))
        if listing:
            method = "LIST"
        if method not in _VAULT_METHODS:
            raise VaultError(405, _UNSUPPORTED)
        caller = await caller_of(request)
        refuse_wrapping(request.scope)
        _refuse_non_utf8(request.scope)
        raw = await _body(request) if method in _BODY_METHODS else b""
        if first == "transit":
            if not parts or not parts[0]:
                raise VaultError(404, "unsupported path transit/")
            if _OPERATION.fullmatch(path):
                # An operation's path, by a method other than POST or PUT (taken above).
                raise VaultError(405, _UNSUPPORTED)
            if len(parts) > 1 and parts[0] == "keys" and not is_key_name(parts[1]):
                raise VaultError(400, "invalid key name")
            return await manage(request, caller, method, parts, raw, listing=listing)
        if first == "sys":
            return _sys_route(parts, path, method, self.kv_mounts)
        if first == "auth":
            if parts[:1] != ["token"]:
                # No other auth method is mounted.
                raise _no_handler(path)
            return token_route(caller, method, parts[1:])
        if first not in self.kv_mounts:
            # After the token, as Vault's router runs after its token and policy checks.
            raise _no_handler(path)
        runtime: Runtime = request.app.state.runtime
        return await kv_route(
            request,
            caller,
            runtime,
            self._store(runtime),
            mount=first,
            method=method,
            parts=parts,
            raw=raw,
            listing=listing,
        )


def _open_sys(route: str, method: str, query: QueryParams) -> Response:
    """A ``sys/`` route of its own in Vault (``health``, ``seal-status``…): no token and
    no ``list=`` read, its own methods only.

    Raises:
        VaultError: 405 for another method; 400 for initialising (``PUT sys/init``) a
            service that is, as Vault refuses an initialised server, and for a query
            the route refuses (``sys/health?activecode=abc``).
    """
    methods, answer = OPEN_ROUTES[route]
    if method in methods:
        return answer(query)
    if route == "init" and method in ("PUT", "POST"):
        raise VaultError(400, "already initialized")
    raise VaultError(405, _UNSUPPORTED)


def _sys_route(parts: list[str], path: str, method: str, kv_mounts: frozenset[str]) -> Response:
    """A ``sys/`` route that reads the token: the mount lookup, by ``GET`` only.

    Raises:
        VaultError: 404 for another path; 405 for another method.
    """
    if parts[:3] != ["internal", "ui", "mounts"] or len(parts) < 4:
        raise VaultError(404, f"unsupported path {path[4:]}")
    if method != "GET":
        raise VaultError(405, _UNSUPPORTED)
    return mount_of(parts[3:], kv_mounts)


def _no_handler(path: str) -> VaultError:
    """Vault's answer to a path under no mount: 404 with its router's words."""
    quoted = json.dumps(path[4:], ensure_ascii=False)  # as Go's %q quotes it
    return VaultError(404, f"no handler for route {quoted}. route entry not found.")


async def _operation(match: re.Match[str], request: Request) -> Response:
    """A transit operation: ``encrypt/:name``, ``datakey/:type/:name``, ``sign/:name/:hash``…"""
    if match[1]:
        operation, name, path_arg = "datakey", match[3], match[2]
    elif match[4]:
        operation, name, path_arg = match[4], match[5], None
    else:
        operation, name, path_arg = match[6], match[7], match[8]
    caller = await caller_of(request)  # first: no answer tells a stranger anything
    refuse_wrapping(request.scope)
    if not is_key_name(name):
        raise VaultError(400, "invalid key name")
    raw = await _body(request)
    return await operate(request, caller, operation, name, raw, path_arg=path_arg)


async def _refusal(request: Request, exc: Exception) -> Response | None:
    """Vault's answer to ``exc``, or ``None`` for an internal error.

    Whatever was refused (the token, the path, the key's name…), a ``POST`` or ``PUT``
    body that is not JSON is refused instead, as Vault parses it before anything else.
    Judged once a refusal is raised, so that an answer that succeeds parses its body once.
    """
    refused = vault_refusal(exc)
    if refused is None or request.method not in _PARSED_FIRST or refused.status_code == TOO_LARGE:
        # A body over the limit is not read again: the rest of it is never read.
        return refused
    try:
        parse_body(await _body(request))
    except VaultError as malformed:
        return vault_refusal(malformed)
    except ClientDisconnect:
        pass  # no body to judge: the refusal stands
    except HTTPException as over:
        # The body passed the limit as it was read for the judgement.
        return vault_refusal(over) or refused
    return refused


async def _body(request: Request) -> bytes:
    """The request's body; empty for the JSON text ``null``, which Vault reads as no
    fields (what ``vault write -f PATH`` and the Go client's ``Write(path, nil)`` send)."""
    raw = await request.body()
    return b"" if len(raw) <= _NULL_SPACE and raw.strip(_JSON_SPACE) == b"null" else raw


def _refuse_non_utf8(scope: Scope) -> None:
    """Refuse a path whose percent-encoding is not UTF-8 (``%FF``, a surrogate's
    ``%ED%A0%80``).

    The server decodes such bytes to U+FFFD, so ``alice/%FF``, ``alice/%FE`` and
    ``alice/%EF%BF%BD`` would all name one secret; Vault keeps their bytes apart.

    Raises:
        VaultError: 400.
    """
    raw = scope.get("raw_path")
    if not raw:
        return
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise VaultError(400, "the path is not valid UTF-8 once percent-decoded") from None


def _list_asked(request: Request) -> bool:
    """Whether a GET asks for a list (``list=`` as a boolean in Vault's spellings).

    Raises:
        VaultError: 400 for a ``list`` that is no boolean, as Vault answers it, or that
            is given twice.
    """
    value = single_param(request, "list")
    if not value:
        return False
    flag = typed({"list": value}, flags=("list",))["list"]
    if not isinstance(flag, bool):
        raise VaultError(400, "list must be true or false")
    return flag
