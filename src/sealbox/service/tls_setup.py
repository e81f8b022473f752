"""The service's TLS setup per worker: which files it serves, and their live reload.

**Client identity under mTLS.** :class:`~sealbox.tls.server_session.ClientIdentity`
is what the verified peer certificate of a connection says;
:mod:`sealbox.service.connection` puts it, under :data:`PEER_STATE_KEY`, into the
connection's copy of the lifespan state, which uvicorn copies into every request's
``scope["state"]``. Routes read it through the
:func:`sealbox.integrations.fastapi.client_identity` dependency.

**Certificate reload.** The server's TLS setup (:class:`~sealbox.tls.server_session.ServerTLS`)
is made once per worker by :func:`make_server_tls`. :class:`CertificateReloader` checks
the certificate and key files every few seconds (and on ``SIGHUP`` in a single-worker
server) and, when they changed and check out, gives the setup a context built from
them: new handshakes get the new certificate, open connections carry on with theirs.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sealbox.exceptions import SealboxError
from sealbox.integrations.fastapi.client_cert import PEER_STATE_KEY
from sealbox.tls.server_session import ClientIdentity, ServerTLS

__all__ = [
    "PEER_STATE_KEY",
    "CertificateReloader",
    "ClientIdentity",  # at home in sealbox.tls; named here for sealbox.service.server users
    "check_server_tls",
    "make_server_tls",
    "tls_paths",
]

log = logging.getLogger("sealbox.service")


# The TLS setups this process serves with, by (certificate, key) files, so the reloader
# can give them a context built from renewed files.
_LIVE: dict[tuple[Path, Path], list[ServerTLS]] = {}


def make_server_tls(settings: Any) -> ServerTLS:
    """The server's TLS setup for ``settings`` (registered for live reload).

    Raises:
        TLSConfigError: a certificate, key or CA file is unusable (the message names it).
    """
    cert, key = tls_paths(settings)
    client_ca = Path(settings.client_ca) if settings.client_ca is not None else None
    tls = ServerTLS(cert, key, client_ca, mtls=settings.mtls)
    _LIVE.setdefault((cert, key), []).append(tls)
    return tls


def check_server_tls(settings: Any) -> None:
    """Build the server's TLS setup once, as each worker will, to refuse a start that
    could not serve.

    The workers build theirs at their first connection: a certificate, key or CA that
    does not load there fails every handshake, while the service says it runs.

    Raises:
        TLSConfigError: a certificate, key or CA file is unusable (the message names it).
    """
    cert, key = tls_paths(settings)
    client_ca = Path(settings.client_ca) if settings.client_ca is not None else None
    ServerTLS(cert, key, client_ca, mtls=settings.mtls)


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
        # The files as they were when they last failed to load: tried again, and logged
        # again, only once they change (or on SIGHUP), not at every check.
        self._failed: tuple[tuple[int, int], tuple[int, int]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.reloads = 0

    @property
    def setups(self) -> list[ServerTLS]:
        return _LIVE.get((self.cert, self.key), [])

    def reload(self) -> bool:
        """Load the files again now; return whether the server took them.

        A pair that does not load (a key that does not match, a half-written
        file) is logged and skipped: the server keeps serving the old pair, and the
        watch tries it again once either file changes.
        New connections get the new pair; open ones keep theirs.
        """
        stamps = (_stamp(self.cert), _stamp(self.key))
        try:
            renewed = [(tls, tls.renewed()) for tls in self.setups]
        except (OSError, SealboxError) as exc:
            self._failed = stamps
            log.warning(
                "certificate reload from %s failed: %s (the previous certificate stays in "
                "use; the files are tried again when they change)",
                self.cert,
                _why(exc),
            )
            return False
        self._failed = None
        for tls, context in renewed:
            tls.context = context
        self._stamps = stamps
        self.reloads += 1
        log.info("server certificate reloaded from %s", self.cert)
        return True

    def changed(self) -> bool:
        """Whether the certificate or key file changed since it was last loaded."""
        return (_stamp(self.cert), _stamp(self.key)) != self._stamps

    def due(self) -> bool:
        """Whether the watch should load the files: changed since they were last
        loaded, and not as they were when that last failed."""
        stamps = (_stamp(self.cert), _stamp(self.key))
        return stamps not in (self._stamps, self._failed)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.due():
                self.reload()

    def start(self, *, on_sighup: Callable[[], None] | None = None) -> None:
        """Watch the files, and reload on SIGHUP where this process may handle it.

        ``on_sighup`` runs on SIGHUP too (the audit log reopens there).
        """
        if self.interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._watch())
        import signal

        def hangup() -> None:
            if self.setups:
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
        _LIVE.pop((self.cert, self.key), None)


def _why(exc: BaseException) -> str:
    if isinstance(exc, SealboxError):
        return str(exc)
    return type(exc).__name__


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)
