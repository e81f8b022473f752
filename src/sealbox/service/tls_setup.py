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

**Certificate renewal.** A service may run longer than its certificate lives.
:class:`CertificateRenewal`, checked by the reloader, renews the data folder's development
certificate (:meth:`DataDir.renew_server_certificate
<sealbox.service.provision.DataDir.renew_server_certificate>`) once two thirds of its life
have passed, and the reloader then serves the new one. Every worker checks; the renewal is
locked and checks again under the lock, so the first worker renews and the others reload
the file it wrote. A certificate the operator gave (``--cert``) is never written: it is
only warned of, from :data:`EXPIRY_WARNING_DAYS` days before it expires.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sealbox.exceptions import SealboxError
from sealbox.service.provision import DataDir
from sealbox.tls.ca import IssuedCertificate, renewal_time
from sealbox.tls.certinfo import load_certificates
from sealbox.tls.server_session import ClientIdentity, ServerTLS

if TYPE_CHECKING:
    from sealbox.integrations.fastapi.client_cert import PEER_STATE_KEY

__all__ = [
    "EXPIRY_WARNING_DAYS",
    "PEER_STATE_KEY",
    "RENEWAL_CHECK_INTERVAL",
    "CertificateReloader",
    "CertificateRenewal",
    "ClientIdentity",  # at home in sealbox.tls; named here for sealbox.service.server users
    "certificate_renewal",
    "check_server_tls",
    "make_server_tls",
    "tls_paths",
]

log = logging.getLogger("sealbox.service")

#: An operator's certificate is warned of once this many days or fewer are left: time to
#: renew it by hand after a renewal job that failed unnoticed (one that renews at two
#: thirds of a 90-day life still has 30 days left).
EXPIRY_WARNING_DAYS: Final = 14
#: Seconds between checks of the development certificate when the file watch is off
#: (``SEALBOX_RELOAD_INTERVAL=0``); with the watch on, it is checked at each look.
RENEWAL_CHECK_INTERVAL: Final = 60.0
# A renewal that failed (the folder locked, a CA that expires first) is tried again after
# this many seconds, or as soon as the file changes: not at every look, with a warning each.
_RETRY_AFTER: Final = 600.0
# An operator's certificate in its last days is warned of again after this many seconds.
_WARN_AGAIN_AFTER: Final = 24 * 3600.0


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


def certificate_renewal(settings: Any) -> CertificateRenewal:
    """The renewal of the certificate ``settings`` serve: the data folder's development
    certificate is renewed, an operator's (``cert``) only warned of before it expires."""
    cert, _ = tls_paths(settings)
    if settings.cert is not None:
        return CertificateRenewal(cert, None)
    return CertificateRenewal(cert, DataDir(settings.data_dir).renew_server_certificate)


class CertificateRenewal:
    """Keep the served certificate from expiring under a running service.

    The certificate file is read again only when it changed (its modification time and
    size). With ``renew`` (the development certificate), :meth:`due` says when two thirds
    of its life have passed and :meth:`renew` renews it; ``renew`` must be locked and
    check again under its lock, returning ``None`` when the file was fresh by then.
    Without (an operator's certificate), nothing is written: :meth:`due` warns once
    :data:`EXPIRY_WARNING_DAYS` or fewer days are left, and again every day.

    Args:
        cert: the certificate file served.
        renew: renews it if due (blocking; see above), or ``None``.
        warn_days: the days before expiry from which an operator's certificate is warned of.
    """

    def __init__(
        self,
        cert: Path,
        renew: Callable[[], IssuedCertificate | None] | None,
        *,
        warn_days: int = EXPIRY_WARNING_DAYS,
    ) -> None:
        self.cert = cert
        self.warn_days = warn_days
        self._renew = renew
        self._read: tuple[int, int] | None = None  # the file's stamp when last read
        self._not_after: datetime | None = None  # and what it said (None: unreadable)
        self._due_at: datetime | None = None
        self._failed_at: float | None = None  # the last failed renewal of the file as read
        self._warned_at: float | None = None
        self.renewals = 0

    @property
    def renews(self) -> bool:
        """Whether this certificate is renewed here (the development certificate)."""
        return self._renew is not None

    def due(self) -> bool:
        """Whether the certificate should be renewed now (an operator's: never)."""
        self._read_file()
        if self._not_after is None or self._due_at is None:
            return False  # missing or damaged: the reloader says so, and keeps the old one
        now = time.monotonic()
        if self._renew is None:
            left = self._not_after - datetime.now(UTC)
            if left.days < self.warn_days and (
                self._warned_at is None or now - self._warned_at >= _WARN_AGAIN_AFTER
            ):
                self._warned_at = now
                self._warn_of_expiry(left.days)
            return False
        if self._failed_at is not None and now - self._failed_at < _RETRY_AFTER:
            return False
        return datetime.now(UTC) >= self._due_at

    def renew(self) -> bool:
        """Renew the certificate (blocking: run it off the event loop); return whether
        this call wrote a new one (not: another worker had, or it failed and was logged)."""
        if self._renew is None:
            return False
        try:
            issued = self._renew()
        except Exception as exc:  # noqa: BLE001 - the service serves on; said, tried again
            self._failed_at = time.monotonic()
            log.warning(
                "the server certificate %s is due for renewal and could not be renewed: %s "
                "(it expires on %s; tried again in %d minutes, or when the file changes)",
                self.cert,
                _why(exc),
                f"{self._not_after:%Y-%m-%d %H:%M} UTC" if self._not_after else "?",
                _RETRY_AFTER // 60,
            )
            return False
        if issued is None:
            return False
        self.renewals += 1
        leaf = issued.certificate
        log.info(
            "server certificate %s renewed: valid until %s UTC (serial %x)",
            self.cert,
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M}",
            leaf.serial_number,
        )
        return True

    def _read_file(self) -> None:
        stamp = _stamp(self.cert)
        if stamp == self._read:
            return
        self._read, self._failed_at, self._warned_at = stamp, None, None
        try:
            leaf = load_certificates(self.cert)[0]
        except (OSError, SealboxError):
            self._not_after = self._due_at = None
            return
        self._not_after = leaf.not_valid_after_utc
        self._due_at = renewal_time(leaf)

    def _warn_of_expiry(self, days_left: int) -> None:
        when = f"{self._not_after:%Y-%m-%d %H:%M} UTC"
        if days_left < 0:
            state = f"expired on {when}: clients refuse it"
        else:
            state = f"expires on {when}, in {days_left} day{'' if days_left == 1 else 's'}"
        log.warning(
            "the server certificate %s %s; sealbox does not renew a certificate it was "
            "given: renew it where it was issued (it is reloaded once the file changes)",
            self.cert,
            state,
        )


class CertificateReloader:
    """Load a renewed certificate into the live server contexts without a restart.

    Args:
        cert: the certificate file the contexts were built from.
        key: its key file.
        interval: seconds between checks of the files (0: only on ``reload()``/SIGHUP,
            but for a certificate ``renewal`` renews: see :data:`RENEWAL_CHECK_INTERVAL`).
        renewal: the certificate's renewal, checked at each look at the files; a
            renewed certificate is loaded at once.
    """

    def __init__(
        self,
        cert: Path,
        key: Path,
        interval: float,
        *,
        renewal: CertificateRenewal | None = None,
    ) -> None:
        self.cert = cert
        self.key = key
        self.interval = interval
        self.renewal = renewal
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
        renewal = self.renewal
        # A certificate renewed here is followed even with the watch off: the renewal
        # may be another worker's, and this one must serve the file it wrote.
        follow = self.interval > 0 or (renewal is not None and renewal.renews)
        period = self.interval if self.interval > 0 else RENEWAL_CHECK_INTERVAL
        while True:
            if renewal is not None and renewal.due():
                await asyncio.to_thread(renewal.renew)
            if follow and self.due():
                self.reload()
            await asyncio.sleep(period)

    def start(self, *, on_sighup: Callable[[], None] | None = None) -> None:
        """Watch the files (and the certificate's renewal), and reload on SIGHUP where this
        process may handle it.

        ``on_sighup`` runs on SIGHUP too (the audit log reopens there).
        """
        if self.interval > 0 or self.renewal is not None:
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


def __getattr__(name: str) -> Any:
    # PEER_STATE_KEY is the FastAPI integration's, whose import loads FastAPI: read from
    # it when asked for, so that checking the TLS files (`sealbox serve --check`) does not.
    if name == "PEER_STATE_KEY":
        from sealbox.integrations.fastapi.client_cert import PEER_STATE_KEY

        return PEER_STATE_KEY
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
