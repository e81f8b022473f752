"""The client certificate of a mutual-TLS connection, as a dependency.

The server verifies the certificate during the handshake (against its client CAs); the
app reads what it says. Two servers tell the app:

- sealbox's TLS connection layer (``sealbox serve``, or uvicorn given
  ``sealbox.service.connection.connection_class``) puts the verified
  :class:`~sealbox.tls.server_session.ClientIdentity` into the request's state under
  :data:`PEER_STATE_KEY`;
- servers implementing the ASGI TLS extension give the chain in
  ``scope["extensions"]["tls"]["client_cert_chain"]`` (PEM); a chain whose verification
  failed (``client_cert_error`` set: a server may be told to let it through) is none.

Plain uvicorn verifies client certificates (``--ssl-cert-reqs 2 --ssl-ca-certs …``)
but tells the app nothing about them.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fastapi.requests import HTTPConnection

from sealbox.exceptions import TLSConfigError
from sealbox.integrations.fastapi.errors import ApiError, ErrorCode
from sealbox.tls.server_session import ClientIdentity

__all__ = [
    "PEER_STATE_KEY",
    "client_identity",
    "optional_client_certificate",
    "require_client_certificate",
    "scope_client_identity",
]

#: Where sealbox's connection layer keeps the verified peer certificate in the request state.
PEER_STATE_KEY: Final = "sealbox_client_identity"

# The certificates read from the ASGI TLS extension, by PEM text; past this many, all are
# dropped and read again.
_READ_MAX: Final = 1024
_READ: dict[str | bytes, ClientIdentity] = {}


def client_identity(request: HTTPConnection) -> ClientIdentity | None:
    """The verified client certificate of this connection, or ``None``."""
    return scope_client_identity(request.scope)


def scope_client_identity(scope: Mapping[str, Any]) -> ClientIdentity | None:
    """:func:`client_identity`, read from the request's ASGI scope."""
    state = scope.get("state") or {}
    identity = state.get(PEER_STATE_KEY)
    if isinstance(identity, ClientIdentity):
        return identity
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or ()
    if not chain or tls.get("client_cert_error"):
        # A server may be set to let a connection through whose certificate failed its
        # verification, and says so in client_cert_error: that certificate is nobody's.
        return None
    pem = chain[0]
    identity = _READ.get(pem)
    if identity is None:
        # Parsing and hashing a certificate costs more than a guarded request's own work;
        # a connection sends the same one on every request. Verified by the server, and
        # the identity is immutable: keeping it keeps nothing the server has not checked.
        try:
            identity = ClientIdentity.from_pem(pem)
        except TLSConfigError:
            return None
        if len(_READ) >= _READ_MAX:
            _READ.clear()
        _READ[pem] = identity
    return identity


async def optional_client_certificate(request: HTTPConnection) -> ClientIdentity | None:
    """Dependency: the client certificate, or ``None`` on a connection without one."""
    return client_identity(request)


async def require_client_certificate(request: HTTPConnection) -> ClientIdentity:
    """Dependency: the client certificate; 403 ``client_certificate_required`` without one."""
    identity = client_identity(request)
    if identity is None:
        raise ApiError(
            403,
            ErrorCode.CLIENT_CERTIFICATE_REQUIRED,
            "this needs a client certificate (mutual TLS)",
        )
    return identity
