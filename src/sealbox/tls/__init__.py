"""TLS and PKI: a certificate authority, safe ``ssl.SSLContext`` builders, SPKI pinning,
and httpx2 clients with mutual TLS.

Modules, each with one concern:

- :mod:`sealbox.tls.ca`: :class:`CertificateAuthority` issues and renews server and
  client certificates;
- :mod:`sealbox.tls.context`: :func:`client_context` and :func:`server_context`;
- :mod:`sealbox.tls.pinning`: :func:`spki_pin` and the pin-checking context;
- :mod:`sealbox.tls.client`: :func:`secure_client` and :func:`secure_async_client`
  (``httpx2`` clients);
- :mod:`sealbox.tls.certinfo`: :class:`CertificateInfo` for inspecting certificates;
- :mod:`sealbox.tls.server_session`: server-side TLS sessions over memory buffers
  (pyOpenSSL, the ``service`` extra) that name the client CAs they accept, and
  :class:`ClientIdentity`, what a verified client certificate says.

The names below load their module on first use, so importing ``sealbox.tls`` does
not import httpx2 (nor pyOpenSSL).

May import: :mod:`sealbox._util`, :mod:`sealbox.hazmat`, :mod:`sealbox.keys` and
third-party ``cryptography``, ``httpx2`` and ``OpenSSL`` (pyOpenSSL, for the service's
TLS engine in :mod:`~sealbox.tls.server_session`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealbox._util.lazy import lazy_names

if TYPE_CHECKING:
    from sealbox.tls.ca import CertificateAuthority, IssuedCertificate, needs_renewal
    from sealbox.tls.certinfo import CertificateInfo
    from sealbox.tls.client import secure_async_client, secure_client
    from sealbox.tls.context import client_context, load_server_certificate, server_context
    from sealbox.tls.pinning import pin_context, spki_pin
    from sealbox.tls.server_session import ClientIdentity

__all__ = [
    "CertificateAuthority",
    "CertificateInfo",
    "ClientIdentity",
    "IssuedCertificate",
    "client_context",
    "load_server_certificate",
    "needs_renewal",
    "pin_context",
    "secure_async_client",
    "secure_client",
    "server_context",
    "spki_pin",
]

_LAZY = {
    "CertificateAuthority": "sealbox.tls.ca",
    "IssuedCertificate": "sealbox.tls.ca",
    "needs_renewal": "sealbox.tls.ca",
    "CertificateInfo": "sealbox.tls.certinfo",
    "secure_async_client": "sealbox.tls.client",
    "secure_client": "sealbox.tls.client",
    "client_context": "sealbox.tls.context",
    "load_server_certificate": "sealbox.tls.context",
    "server_context": "sealbox.tls.context",
    "pin_context": "sealbox.tls.pinning",
    "spki_pin": "sealbox.tls.pinning",
    "ClientIdentity": "sealbox.tls.server_session",
}

# Hidden from type checkers: a module ``__getattr__`` would type every misspelt name
# as Any; they see the names above (TYPE_CHECKING) and report any other.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
