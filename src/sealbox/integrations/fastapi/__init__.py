"""sealbox inside your own FastAPI app: the bearer dependency, scopes, client certificates,
and the mountable auth routes over your app's own database.

- :class:`BearerAuth` — ``Authorization: Bearer …`` verified into typed claims, with
  :meth:`BearerAuth.require` for scopes (403 ``insufficient_scope`` per RFC 6750) and the
  OAuth2 password flow in the OpenAPI document (Swagger's **Authorize**). Its source:
  your :class:`~sealbox.accounts.Accounts`, a :class:`LocalJWKS` (a signing keyset or
  JWKS file) or a :class:`RemoteJWKS` (an issuer's JWKS URL, fetched asynchronously);
  over mutual TLS, a token bound to a client certificate (RFC 8705) passes only with it;
- :func:`require_client_certificate` / :func:`optional_client_certificate` — the verified
  client certificate of a mutual-TLS connection;
- :func:`auth_router`, :func:`users_router`, :func:`jwks_router` — register, the OAuth 2
  token endpoint (password, refresh and client credentials grants, TOTP codes), refresh
  with rotation and reuse detection, logout, password change, ``users/me`` and the JWKS:
  the routes of ``sealbox serve``, which mounts these same routers;
- :func:`client_credentials_grant`, :func:`authenticate_client_request` — OAuth 2 client
  authentication (:mod:`sealbox.integrations.fastapi.client_auth`);
- :func:`install_error_handlers` — the JSON errors (:class:`ApiError`, :class:`ErrorCode`).

Needs the ``service`` extra. The tutorial is ``docs/fastapi.md``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from sealbox.accounts.core import AccessClaims, AccountPolicy, Accounts, Caller
from sealbox.integrations.fastapi.bearer import (
    BearerAuth,
    TokenSource,
    bearer_token,
    connection_thumbprint,
)
from sealbox.integrations.fastapi.client_auth import (
    authenticate_client_request,
    client_credentials_grant,
)
from sealbox.integrations.fastapi.client_cert import (
    PEER_STATE_KEY,
    client_identity,
    optional_client_certificate,
    require_client_certificate,
)
from sealbox.integrations.fastapi.errors import ApiError, ErrorCode, install_error_handlers
from sealbox.integrations.fastapi.router import (
    accounts_bearer,
    auth_router,
    jwks_router,
    user_caller,
    users_router,
)
from sealbox.integrations.fastapi.sources import LocalJWKS, RemoteJWKS

__all__ = [
    "PEER_STATE_KEY",
    "AccessClaims",
    "AccountPolicy",
    "Accounts",
    "ApiError",
    "BearerAuth",
    "Caller",
    "ErrorCode",
    "LocalJWKS",
    "RemoteJWKS",
    "TokenSource",
    "accounts_bearer",
    "auth_router",
    "authenticate_client_request",
    "bearer_token",
    "client_credentials_grant",
    "client_identity",
    "connection_thumbprint",
    "install_error_handlers",
    "jwks_router",
    "optional_client_certificate",
    "require_client_certificate",
    "user_caller",
    "users_router",
]
