"""Who calls the Vault-shaped routes: ``X-Vault-Token`` or ``Authorization: Bearer``.

The token is a sealbox access token (a user's, or a machine client's): the same
verification as every other route (:func:`sealbox.service.deps.resolve_caller`:
signature, expiry, revocation, and a certificate-bound token's certificate), and the same
scopes decide. A missing, malformed,
expired or revoked token is answered as Vault answers it: 403 ``permission denied``,
with nothing that tells which.

The scopes of the KV engine name a path prefix, the mount included:
``kv:read:secret/app/`` reads every secret under ``secret/app/``, ``kv:write:…`` writes,
soft-deletes and undeletes there, ``kv:read:*`` and ``kv:write:*`` reach every mount,
and ``kv:admin`` does everything, destroying versions and deleting metadata included.
The prefix is compared as text, as a Vault policy's trailing ``*`` is: end it with ``/``
to stop at a folder.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.types import Scope

from sealbox.service.deps import Caller, resolve_caller
from sealbox.service.errors import ApiError
from sealbox.service.vault.errors import VaultError

__all__ = ["KV_ADMIN", "caller_of", "kv_allows", "refuse_wrapping", "token_in", "token_of"]

KV_ADMIN: Final = "kv:admin"
WRAPPING_UNSUPPORTED: Final = "response wrapping (X-Vault-Wrap-TTL) is not supported"
NAMESPACES_UNSUPPORTED: Final = (
    "namespaces (X-Vault-Namespace) are not supported: only the root is served"
)
# The root namespace's spellings: sealbox's keys and secrets are all there.
_ROOT: Final = frozenset({b"", b"root"})
TWO_TOKENS: Final = (
    "more than one token: send one X-Vault-Token or one Authorization header "
    "(the same token, if both)"
)


def token_of(request: Request) -> str:
    """The access token of a request: ``X-Vault-Token`` first, then a bearer header.

    Raises:
        VaultError: 403 when there is none; 400 for more than one (:func:`token_in`).
    """
    return token_in(request.scope)


def token_in(scope: Scope) -> str:
    """:func:`token_of` from an ASGI scope.

    Each of the two headers is a singleton: a request with two ``X-Vault-Token`` or two
    ``Authorization`` headers is refused, as sealbox's own routes refuse two
    ``Authorization`` headers (RFC 6750 §3.1), and so is one whose ``X-Vault-Token`` and
    bearer token differ. Taking one of two would let a proxy in front check one credential
    and the service act on the other.

    Raises:
        VaultError: 403 when there is none; 400 for more than one.
    """
    vault_token: bytes | None = None
    authorization: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"x-vault-token":
            if vault_token is not None:
                raise VaultError(400, TWO_TOKENS)
            vault_token = value
        elif name == b"authorization":
            if authorization is not None:
                raise VaultError(400, TWO_TOKENS)
            authorization = value
    scheme, _, bearer = (authorization or b"").decode("latin-1").partition(" ")
    bearer = bearer.strip() if scheme.lower() == "bearer" else ""
    token = (vault_token or b"").decode("latin-1").strip()
    if token and bearer and token != bearer:
        raise VaultError(400, TWO_TOKENS)
    if token or bearer:
        return token or bearer
    raise VaultError.denied()


def refuse_wrapping(scope: Scope) -> None:
    """Refuse a request that asks for response wrapping (``X-Vault-Wrap-TTL``, what
    ``vault … -wrap-ttl=…`` sends): sealbox does not wrap, and a client that asked for a
    wrapping token must not be handed the answer in the clear instead. So is one that
    names a namespace other than the root (``X-Vault-Namespace``): answered from the one
    set of keys and secrets there is, two tenants naming the same key would share it.

    Raises:
        VaultError: 400.
    """
    for name, value in scope["headers"]:
        if name == b"x-vault-wrap-ttl":
            raise VaultError(400, WRAPPING_UNSUPPORTED)
        if name == b"x-vault-namespace" and value.strip().strip(b"/") not in _ROOT:
            raise VaultError(400, NAMESPACES_UNSUPPORTED)


async def caller_of(request: Request) -> Caller:
    """The verified caller of a request.

    Raises:
        VaultError: 403 ``permission denied`` for a missing, bad, expired or revoked token;
            400 for a request carrying more than one (:func:`token_in`).
    """
    token = token_of(request)
    try:
        return await resolve_caller(request.app.state.runtime, token, request)
    except ApiError:
        raise VaultError.denied() from None


def kv_allows(scopes: frozenset[str], action: str, where: str) -> bool:
    """Whether ``scopes`` let a caller ``action`` (``read``, ``write``, ``admin``) at ``where``.

    Args:
        scopes: the caller's scopes.
        action: what the request does.
        where: ``<mount>/<path>`` (a folder, for a list, ends with ``/``).
    """
    if KV_ADMIN in scopes:
        return True
    if action == "admin":
        return False
    head = f"kv:{action}:"
    for scope in scopes:
        granted = scope[len(head) :] if scope.startswith(head) else ""
        if granted and where.startswith(granted.removesuffix("*")):
            return True
    return False
