"""TLS for the service: the client-certificate identity, server contexts, live certificate reload.

**Client identity under mTLS.** :class:`ClientIdentity` is what the verified peer
certificate of a connection says; :mod:`sealbox.service.connection` puts it into
the connection's copy of the lifespan state, which uvicorn copies into every
request's ``scope["state"]``. Routes read it through the
:func:`sealbox.service.deps.client_identity` dependency.

**Certificate reload.** The server's :class:`ssl.SSLContext` is built once per
worker by :func:`make_server_context`. :class:`CertificateReloader` checks the
certificate and key files every few seconds (and on ``SIGHUP`` in a single-worker
server) and loads a renewed pair into that same context after validating it on a
scratch context: new handshakes get the new certificate, open connections carry on.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PEER_STATE_KEY",
    "CertificateReloader",
    "ClientIdentity",
    "make_server_context",
    "tls_paths",
]

log = logging.getLogger("sealbox.service")

PEER_STATE_KEY = "sealbox_client_identity"


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """The verified client certificate of an mTLS connection.

    Attributes:
        common_name: the subject's CN (``""`` if none).
        dns_names: DNS names in subjectAltName.
        emails: email addresses in subjectAltName.
        uris: URIs in subjectAltName (SPIFFE IDs, for instance).
        issuer: the issuer's CN.
        serial: the serial number, hex.
        fingerprint: SHA-256 of the certificate (DER), hex.
        not_after: the expiry, as OpenSSL prints it.
    """

    common_name: str
    dns_names: tuple[str, ...]
    emails: tuple[str, ...]
    uris: tuple[str, ...]
    issuer: str
    serial: str
    fingerprint: str
    not_after: str

    @classmethod
    def from_ssl_object(cls, ssl_object: ssl.SSLObject | ssl.SSLSocket) -> ClientIdentity | None:
        """Read the verified peer certificate of a TLS connection (``None`` if there is none)."""
        peer: dict[str, Any] | None = ssl_object.getpeercert()
        der = ssl_object.getpeercert(binary_form=True)
        if not peer or not der:
            return None
        sans: dict[str, list[str]] = {}
        for kind, value in peer.get("subjectAltName", ()):
            sans.setdefault(str(kind), []).append(str(value))
        return cls(
            common_name=_rdn(peer.get("subject", ()), "commonName"),
            dns_names=tuple(sans.get("DNS", ())),
            emails=tuple(sans.get("email", ())),
            uris=tuple(sans.get("URI", ())),
            issuer=_rdn(peer.get("issuer", ()), "commonName"),
            serial=str(peer.get("serialNumber", "")),
            fingerprint=hashlib.sha256(der).hexdigest(),
            not_after=str(peer.get("notAfter", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "common_name": self.common_name,
            "dns_names": list(self.dns_names),
            "emails": list(self.emails),
            "uris": list(self.uris),
            "issuer": self.issuer,
            "serial": self.serial,
            "fingerprint": self.fingerprint,
            "not_after": self.not_after,
        }


def _rdn(name: Any, attribute: str) -> str:
    for rdn in name:
        for key, value in rdn:
            if key == attribute:
                return str(value)
    return ""


# The contexts this process serves with, by (certificate, key) files, so the reloader
# can update them in place.
_LIVE_CONTEXTS: dict[tuple[Path, Path], list[ssl.SSLContext]] = {}


def make_server_context(settings: Any) -> ssl.SSLContext:
    """The server's TLS context for ``settings`` (registered for live reload)."""
    from sealbox.tls.context import server_context

    cert, key = tls_paths(settings)
    ctx = server_context(
        cert,
        key,
        client_ca=settings.client_ca,
        require_client_cert=settings.mtls,
    )
    # uvicorn speaks HTTP/1.1 only; say so in ALPN, as its own contexts do.
    ctx.set_alpn_protocols(["http/1.1"])
    _LIVE_CONTEXTS.setdefault((cert, key), []).append(ctx)
    return ctx


def tls_paths(settings: Any) -> tuple[Path, Path]:
    """The certificate and key the server uses: given ones, or the data folder's."""
    if settings.cert is not None:
        return Path(settings.cert), Path(settings.key or settings.cert)
    tls_dir = Path(settings.data_dir) / "tls"
    return tls_dir / "server.crt", tls_dir / "server.key"


class CertificateReloader:
    """Load a renewed certificate into the live server contexts without a restart.

    Args:
        cert: the certificate file the contexts were built from.
        key: its key file.
        interval: seconds between checks of the files (0: only on ``reload()``/SIGHUP).
    """

    def __init__(self, cert: Path, key: Path, interval: float) -> None:
        self.cert = cert
        self.key = key
        self.interval = interval
        self._stamps = (_stamp(cert), _stamp(key))
        self._task: asyncio.Task[None] | None = None
        self.reloads = 0

    @property
    def contexts(self) -> list[ssl.SSLContext]:
        return _LIVE_CONTEXTS.get((self.cert, self.key), [])

    def reload(self) -> bool:
        """Load the files again now; return whether the contexts took them.

        A pair that does not load (a key that does not match, a half-written
        file) is logged and skipped: the contexts keep serving the old pair.
        """
        try:
            scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            scratch.load_cert_chain(self.cert, self.key)
            for ctx in self.contexts:
                ctx.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            log.warning("certificate reload from %s failed: %s", self.cert, type(exc).__name__)
            return False
        self._stamps = (_stamp(self.cert), _stamp(self.key))
        self.reloads += 1
        log.info("server certificate reloaded from %s", self.cert)
        return True

    def changed(self) -> bool:
        """Whether the certificate or key file changed since it was last loaded."""
        return (_stamp(self.cert), _stamp(self.key)) != self._stamps

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.changed():
                self.reload()

    def start(self, *, on_sighup: Callable[[], None] | None = None) -> None:
        """Watch the files, and reload on SIGHUP where this process may handle it.

        ``on_sighup`` runs on SIGHUP too (the audit log reopens there).
        """
        if self.interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._watch())
        import signal

        def hangup() -> None:
            if self.contexts:
                self.reload()
            if on_sighup is not None:
                on_sighup()

        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError, AttributeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, hangup)

    async def stop(self) -> None:
        """Stop watching, and forget this server's contexts."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        _LIVE_CONTEXTS.pop((self.cert, self.key), None)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)
