"""httpx2 clients with safe TLS settings, mutual TLS and SPKI pinning.

:func:`secure_client` and :func:`secure_async_client` return ordinary
``httpx2.Client`` / ``httpx2.AsyncClient`` objects whose ``verify`` is an
``ssl.SSLContext`` from :func:`sealbox.tls.context.client_context`: TLS 1.2 or
newer, certificate and host name always verified, optionally a private CA, a
client certificate (mutual TLS) and pins.

With pins, the server's public key is checked right after the handshake and
before a single byte of the request is written (see :mod:`sealbox.tls.pinning`):
a mismatch raises :class:`~sealbox.exceptions.PinMismatchError` from the call
that opened the connection (``client.get(...)`` etc.) and the connection is
closed. Pins are checked on every new connection, including after redirects and
on reconnects from the pool.

Example::

    from sealbox.tls.client import secure_client

    with secure_client(ca="ca/ca.crt", cert="tls/worker.crt", key="tls/worker.key",
                       pins=["sha256//current...", "sha256//backup..."]) as client:
        client.get("https://api.corp.internal:8443/health")

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sealbox.tls._load import Password
from sealbox.tls.context import StrPath, client_context

if TYPE_CHECKING:
    import httpx2

__all__ = ["secure_async_client", "secure_client"]

# httpx2 options that would bypass or contradict the context built here.
_FORBIDDEN = frozenset({"verify"})


def secure_client(
    ca: StrPath | None = None,
    cert: StrPath | None = None,
    key: StrPath | None = None,
    pins: Iterable[str] | str = (),
    *,
    password: Password | None = None,
    **options: Any,
) -> httpx2.Client:
    """Return an ``httpx2.Client`` that verifies servers strictly, optionally pinned.

    Args:
        ca: PEM file of the CA(s) to trust instead of the system's trust store.
        cert: client certificate for mutual TLS (PEM, leaf then chain).
        key: its private key (PEM); omitted: read from ``cert``.
        pins: SPKI pins (``sha256//BASE64``, or one string with ``;`` between pins);
            the server's key must match one of them. List a backup key's pin too.
        password: passphrase of an encrypted ``key``.
        **options: passed on to ``httpx2.Client`` (``base_url``, ``timeout``,
            ``headers``, ``http2``…); ``verify`` is not accepted.

    Raises:
        TLSConfigError: a CA, certificate or key file is unusable.
        ConfigError: a pin is malformed.
        TypeError: ``verify`` was passed in ``options``.
    """
    import httpx2

    context = client_context(ca, cert, key, password=password, pins=pins)
    return httpx2.Client(verify=context, **_checked(options))


def secure_async_client(
    ca: StrPath | None = None,
    cert: StrPath | None = None,
    key: StrPath | None = None,
    pins: Iterable[str] | str = (),
    *,
    password: Password | None = None,
    **options: Any,
) -> httpx2.AsyncClient:
    """Return an ``httpx2.AsyncClient`` configured as :func:`secure_client` describes."""
    import httpx2

    context = client_context(ca, cert, key, password=password, pins=pins)
    return httpx2.AsyncClient(verify=context, **_checked(options))


def _checked(options: dict[str, Any]) -> dict[str, Any]:
    bad = sorted(_FORBIDDEN & options.keys())
    if bad:
        raise TypeError(
            f"secure clients build their own TLS context; do not pass {', '.join(bad)} "
            "(use ca=, cert=, key=, pins=)"
        )
    return options
