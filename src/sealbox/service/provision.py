"""The service's data folder, and what the first run puts in it.

::

    .sealbox/                 mode 0700
      master.key              0600  sealbox-master-key/1 and 32 random bytes (base64): seals
                                    the other secrets at rest
      jwt-keyset.sealed       0600  the signing keyset, AES-256-GCM under the master key
      tls/ca.crt                    the development CA: what clients trust
      tls/ca.key              0600
      tls/server.crt                localhost, 127.0.0.1 and ::1; renewed at start-up and
      tls/server.key          0600  while serving, when two thirds of its life have passed
      sealbox.db                    SQLite, unless SEALBOX_DATABASE_URL says otherwise
      audit.log                     JSON lines

Every file is written atomically. Provisioning is idempotent: a second run
changes nothing that is still valid.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sealbox.exceptions import ConfigError, StorageError
from sealbox.keysets.key_sealer import KeySealer
from sealbox.storage import atomic_write, locked, make_folder, read_limited

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from sealbox.jwt import SigningKeySet
    from sealbox.jwt.keyset_watch import KeySetWatch
    from sealbox.tls.ca import IssuedCertificate

__all__ = ["DataDir", "MasterKeySealer"]

MASTER_KEY_FORMAT: Final = "sealbox-master-key/1"
SERVER_NAMES: Final = ("localhost", "127.0.0.1", "::1")

# The folders this process serves (DataDir.claim_for_serving): path -> the locked descriptor.
_CLAIMED: dict[str, int] = {}


# Starts over of a first start whose folder another one's failure removed: each is another
# process's failed start, so a few more than the processes that may start together.
_FIRST_START_TRIES: Final = 64

# Tries of a claim, 10 ms apart: far longer than a look by served_with_redis holds it.
_CLAIM_TRIES: Final = 20


def _flock_soon(fd: int, operation: int) -> None:
    """``flock`` without waiting on a holder, but for one that holds it only for an
    instant (:meth:`DataDir.served_with_redis` looking): raises ``BlockingIOError``."""
    import fcntl
    import time

    for _ in range(_CLAIM_TRIES - 1):
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(0.01)
        else:
            return
    fcntl.flock(fd, operation | fcntl.LOCK_NB)


_REMOVE_TRIES: Final = 5
# In a data folder a first start made, until it is provisioned whole.
_NEW_FOLDER: Final = ".first-start"


def _open_claim(path: Path) -> int:
    """Open (or create) ``.serve.lock`` for reading and writing, its mode 0600.

    Under umask 0277 a new one would be 0400, and the next start of its owner (not
    root) could not open it to write its process id: it is set to 0600 here, and one
    left so by an earlier start is made 0600 again.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except PermissionError:
        path.chmod(0o600)  # left 0400 by an earlier start (the folder is ours alone)
        fd = os.open(path, flags, 0o600)
    if os.fstat(fd).st_mode & 0o600 != 0o600:
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
    return fd


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` is still the file (or folder) open as ``fd``."""
    held = os.fstat(fd)
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


class MasterKeySealer(KeySealer):
    """Seal the service's documents with the master key (see :class:`KeySealer`)."""

    __slots__ = ()

    def __init__(self, master_key: bytes, format: str) -> None:  # noqa: A002 - the document's member
        super().__init__(master_key, format, what="signing keyset", key_name="master key")

    def __repr__(self) -> str:
        return f"MasterKeySealer(format={self._format!r})"


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DataDir:
    """The data folder of one service (shared by its workers)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tls = self.path / "tls"
        self.master_key_file = self.path / "master.key"
        self.keyset_file = self.path / "jwt-keyset.sealed"
        # Rewritten by `sealbox users` after ending sessions; a one-worker service
        # without Redis watches it (sealbox.accounts.revocation).
        self.revocations_changed = self.path / "revocations.changed"

    def __repr__(self) -> str:
        return f"DataDir({str(self.path)!r})"

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """The folder's lock (the master key's), held while it is provisioned.

        Hold it for anything else that several services starting on one folder must do
        one at a time (creating the database's tables).
        """
        return locked(self.master_key_file)

    # -- the serving process ----------------------------------------------------------

    def claim_for_serving(self, *, shared: bool, redis_keys: str = "") -> None:
        """Hold the folder for this process's service until the process ends.

        Without Redis a service keeps its revocation lists and sign-in throttle in its
        own memory, so a second service on the folder would let a logged-out token in
        and double the password guesses an attacker gets: ``shared=False`` (no Redis)
        refuses every other service, ``shared=True`` (Redis) every service without it.
        ``sealbox users`` and ``serve --check`` claim nothing. The hold is an ``flock``
        of ``.serve.lock``, released by the kernel however the process ends; claiming
        again in the same process does nothing, unless the folder was removed and made
        anew since (a failed first start): then the new one is claimed. A folder that is
        not there is not claimed. ``redis_keys``
        (:meth:`~sealbox.service.settings.ServiceSettings.redis_keys_id`) is written in the
        claim, so that :meth:`serving_redis` tells ``sealbox users`` which Redis keys to use.

        Raises:
            ConfigError: code ``data_dir_in_use``, with the other process's id.
        """
        import fcntl

        path = self.path / ".serve.lock"
        held = _CLAIMED.get(str(path))
        if held is not None:
            if _same_file(held, path):
                return
            # The claim of a folder removed since (another process's failed first start).
            os.close(_CLAIMED.pop(str(path)))
        try:
            fd = _open_claim(path)
        except FileNotFoundError:
            return  # removed meanwhile: claimed once provisioning has made it again
        try:
            _flock_soon(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            holder = holder if holder.isdigit() else ""  # holders with Redis name keys
            os.close(fd)
            other = f"another sealbox service{f' (process {holder})' if holder else ''}"
            raise ConfigError(
                f"{other} serves {self.path}"
                + (
                    " without Redis"
                    if shared
                    else "; without Redis a service keeps revocations and the sign-in "
                    "throttle to itself"
                ),
                hint="stop it, or run every service of the folder with SEALBOX_REDIS_URL",
                code="data_dir_in_use",
                facts={"folder": str(self.path), "process": holder or "?"},
            ) from None
        # The holder without Redis says who it is; holders with Redis, many, say which
        # keys they read (overwritten, then cut: never empty to one reading meanwhile).
        note = f"redis {redis_keys}\n" if shared else f"{os.getpid()}\n"
        os.pwrite(fd, note.encode(), 0)
        os.ftruncate(fd, len(note))
        _CLAIMED[str(path)] = fd

    def served_with_redis(self) -> bool:
        """Whether a service with Redis serves the folder now (:meth:`serving_redis`)."""
        return self.serving_redis() is not None

    def serving_redis(self) -> str | None:
        """Whether a service with Redis serves the folder now (:meth:`claim_for_serving`).

        Such a service keeps its revocation lists in Redis alone: a change that ends
        sessions must be told to that Redis, not to the folder's changes file. Found by
        trying the exclusive hold for an instant (the claim of a service starting then
        waits that instant out); the holder without Redis is the one that writes its
        process id. Returns the Redis keys that service reads (``redis_keys`` of the claim,
        "" when it did not say), or ``None`` when no service with Redis serves the folder.
        """
        import fcntl

        try:
            fd = os.open(self.path / ".serve.lock", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None  # never served, or not readable: no claim this process can see
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                note = os.pread(fd, 32, 0).decode(errors="replace").split()
                return None if note and note[0].isdigit() else "".join(note[1:2])
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    # -- first run --------------------------------------------------------------------

    def provision(
        self,
        *,
        tls: bool = True,
        sqlite: bool = False,
        migrate: Callable[[], None] | None = None,
    ) -> list[str]:
        """Create whatever is missing; return what was created or renewed (for the log).

        ``migrate`` brings the database's schema up to date; it runs before any key is
        made, so a folder with keys always has a database that was made whole (the
        preflight refuses keys beside an empty one: a lost database, not a first start).

        Several processes may start on one data folder at once: the whole check-and-create
        runs under the master key's lock, so one of them creates and the others find.

        A folder this call made is removed again, with all that was made in it, if
        provisioning it fails (a full disk): a first start that fails leaves nothing.

        .. versionchanged:: 0.1.0
           A failed first start removes the folder it made.
        """
        with self._first_start() as made:
            if sqlite:
                # Before any key: a folder with keys and no database is a damaged one.
                self.touch_private("sealbox.db")
            if migrate is not None:
                migrate()
            return self._made_note(made) + self._provision_locked(tls=tls)

    async def aprovision(
        self,
        *,
        tls: bool = True,
        sqlite: bool = False,
        migrate: Callable[[], Awaitable[None]] | None = None,
        engine: AsyncEngine | None = None,
        new_keyset: bool = False,
    ) -> list[str]:
        """:meth:`provision` for an app's async start-up (a FastAPI lifespan): ``migrate``
        is awaited, under the folder's lock, before any key is made.

        ``engine``: the app's database. A signing keyset missing beside a master key
        while that database holds accounts, refresh tokens or clients is then refused
        (code ``keyset_lost``), as ``sealbox serve`` refuses it, instead of replaced by a
        new one that would make every token issued so far invalid; ``new_keyset`` makes
        the new one on purpose. Without ``engine`` a missing keyset is made unchecked.

        Another process starting on the folder at the same moment waits for the lock
        without giving the event loop back: at start-up there is nothing else to run.

        Raises:
            ConfigError: code ``keyset_lost``.

        .. versionadded:: 0.1.0
        .. versionchanged:: 0.1.0
           ``engine`` and ``new_keyset``: the ``keyset_lost`` check.
        """
        with self._first_start() as made:
            if sqlite:
                self.touch_private("sealbox.db")
            if migrate is not None:
                await migrate()
            if engine is not None:
                # Under the lock, after the migration, before any key: what another
                # process made meanwhile is seen, and a refused start makes nothing.
                from sealbox.service.preflight import acheck_keyset_present

                await acheck_keyset_present(self.path, engine, new_keyset=new_keyset)
            return self._made_note(made) + self._provision_locked(tls=tls)

    @contextlib.contextmanager
    def _first_start(self) -> Iterator[list[Path]]:
        """Make the folder if missing and hold its lock for the block; yields the folders
        made (:meth:`_make_folder`), removed again if the block fails.

        Another process's first start that fails removes the folder it made, lock file
        and all, perhaps while this one waits for that lock: this one then holds the lock
        of a folder that is gone, and starts over, making the folder itself (or finding
        the one a third process made meanwhile).
        """
        for _ in range(_FIRST_START_TRIES):
            made = self._make_folder()
            with contextlib.ExitStack() as stack:
                if not self._lock_in_place(stack):
                    continue
                stack.enter_context(self._undone_on_failure(made))
                yield made
                # Made whole: no longer a first start's folder, to remove if one fails.
                with contextlib.suppress(FileNotFoundError):
                    (self.path / _NEW_FOLDER).unlink()
                return
        raise StorageError(
            f"the data folder {self.path} kept being removed while it was provisioned",
            hint="other services starting on it failed (a full disk?): make room, then start again",
            code="data_dir_removed",
            facts={"folder": str(self.path)},
        )

    def _lock_in_place(self, stack: contextlib.ExitStack) -> bool:
        """Take the folder's lock, held until ``stack`` closes; whether the folder is still
        the one whose lock it is (``False``: it was removed meanwhile)."""
        try:
            # Held open until the lock is let go: its inode cannot be another folder's.
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        stack.callback(os.close, fd)
        try:
            stack.enter_context(self.lock())
        except StorageError:
            if self._same_folder(fd):
                raise
            return False  # its lock file went with it
        return self._same_folder(fd)

    def _same_folder(self, fd: int) -> bool:
        return _same_file(fd, self.path)

    def _make_folder(self) -> list[Path]:
        """Make the folder if missing; return the folders made (its parents too), outermost
        first."""
        made: list[Path] = []
        if not self.path.exists():
            missing = [self.path, *(p for p in self.path.absolute().parents if not p.exists())]
            # The parents too are 0700 whatever the umask: one open to others would let
            # them move the data folder away and put theirs in its place.
            make_folder(self.path.absolute().parent)
            with contextlib.suppress(FileExistsError):
                self.path.mkdir(mode=0o700)
                self.path.chmod(0o700)  # the umask may have narrowed it
                made = missing[::-1]
        if made:
            # Says "a first start's folder" to whichever start takes the lock first.
            try:
                (self.path / _NEW_FOLDER).touch(mode=0o600, exist_ok=False)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    self.path.rmdir()
                raise StorageError(
                    f"cannot make the data folder {self.path}: {(exc.strerror or '').lower()}"
                ) from None
        if self.path.exists() and not self.path.is_dir():
            raise StorageError(f"{self.path} is not a folder")
        return made  # a folder removed again since is found so by _lock_in_place

    def _made_note(self, made: list[Path]) -> list[str]:
        return [f"data folder {self.path}"] if made else []

    @contextlib.contextmanager
    def _undone_on_failure(self, made: list[Path]) -> Iterator[None]:
        """Remove the folder (and ``made``, the parents :meth:`_make_folder` made) if the
        block fails, when it is a first start's folder that held nothing yet.

        Entered under the folder's lock. The start that made the folder marks it, and the
        start that makes it whole takes the mark away; another start on it may take the
        lock first, and then removes it if it fails. A marked folder holds only what first
        starts that failed or were killed left (a database made before a key could be
        written, say): no start has finished in it, so nothing there is anyone's data,
        and it goes too (kept, a half-made folder stayed behind: a database, no keys).
        One made by its operator has no mark and stays.
        """
        ours = (self.path / _NEW_FOLDER).exists()
        try:
            yield
        except BaseException:
            if ours:
                # Another process's look at the database (read-only, before it waits for
                # the lock) may make SQLite's -wal and -shm files while they are removed:
                # removed again, so that no half-made folder stays.
                for _ in range(_REMOVE_TRIES):
                    shutil.rmtree(self.path, ignore_errors=True)
                    if not self.path.exists():
                        break
                for folder in made[-2::-1]:  # the parents made for it, innermost first
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # only while empty
            raise

    def _provision_locked(self, *, tls: bool) -> list[str]:
        done: list[str] = []
        if not self.master_key_file.exists():
            text = f"{MASTER_KEY_FORMAT} {_b64e(os.urandom(32))}\n"
            atomic_write(self.master_key_file, text.encode(), mode=0o600, overwrite=False)
            done.append(f"master key {self.master_key_file}")
        self.touch_private("audit.log")
        if not self.keyset_file.exists():
            from sealbox.jwt import SigningKeySet  # see load_keyset

            keyset = SigningKeySet.generate("EdDSA")
            keyset.save(self.keyset_file, sealer=self._sealer(), overwrite=False)
            done.append(f"signing keyset {self.keyset_file}")
        if tls:
            done += self._provision_tls()
        return done

    def _provision_tls(self) -> list[str]:
        from sealbox.tls.ca import CertificateAuthority, needs_renewal
        from sealbox.tls.certinfo import load_certificates

        done = []
        if not (self.tls / "ca.crt").exists():
            CertificateAuthority.init(self.tls, name="sealbox development CA")
            done.append(f"development CA {self.tls / 'ca.crt'}")
        cert, key = self.tls / "server.crt", self.tls / "server.key"
        if (
            not cert.exists()
            or not key.exists()
            or needs_renewal(load_certificates(cert)[0])  # a damaged one: a clear error
        ):
            ca = CertificateAuthority.load(self.tls)
            ca.issue_server(list(SERVER_NAMES)).write(self.tls / "server", overwrite=True)
            done.append(f"server certificate {cert} ({', '.join(SERVER_NAMES)})")
        return done

    def renew_server_certificate(self) -> IssuedCertificate | None:
        """Renew the development server certificate in place if it is due; for a serving
        process (:class:`~sealbox.service.tls_setup.CertificateRenewal`).

        The renewal of :meth:`CertificateAuthority.renew_files
        <sealbox.tls.ca.CertificateAuthority.renew_files>`: the same names and lifetime,
        the key kept, so only ``server.crt`` is replaced (one rename: a worker reloading
        never finds a certificate beside a key that is not its own). Under the folder's
        lock, which a service provisioning at start-up holds, and the certificate's own,
        under which the check that it is due is made again: of several workers finding it
        due at once, the first renews and the others find a fresh file (``None``).

        Returns:
            The new certificate, or ``None`` if it was not due.

        Raises:
            TLSConfigError: a missing or damaged file, a certificate the folder's CA did
                not issue, a key that does not match it, an expired CA.
            ConfigError: the CA expires before the renewed certificate would.
            LockTimeoutError: the folder stayed locked (another service provisioning).

        .. versionadded:: 0.1.0
        """
        from sealbox.tls.ca import CertificateAuthority

        with self.lock():
            return CertificateAuthority.load(self.tls).renew_files(self.tls / "server")

    def touch_private(self, name: str) -> None:
        """Create an empty file with mode 0600 if it does not exist.

        For files that other code opens later (SQLite gives its ``-wal`` and
        ``-shm`` files the database's mode; the audit logger appends).
        """
        path = self.path / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            return
        try:
            os.fchmod(fd, 0o600)  # whatever the umask: its writers must be able to open it
        finally:
            os.close(fd)

    # -- secrets ----------------------------------------------------------------------

    def master_key(self) -> bytes:
        """Read the master key.

        Raises:
            ConfigError: the file is missing, malformed, or readable by others.
        """
        if not self.master_key_file.exists():
            raise ConfigError(
                f"no master key at {self.master_key_file}",
                hint="provision the data folder first (the service does when it starts)",
                code="service_not_provisioned",
                facts={"path": str(self.master_key_file)},
            )
        mode = self.master_key_file.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(
                f"{self.master_key_file} is readable by other users (mode {mode:o})",
                hint=f"chmod 600 {self.master_key_file}",
            )
        malformed = ConfigError(
            f"{self.master_key_file} is not a sealbox master key "
            f"({MASTER_KEY_FORMAT} and 32 bytes in base64)",
            hint="restore it from a backup: what the folder seals can be opened with it only",
            code="master_key_invalid",
            facts={"path": str(self.master_key_file)},
        )
        text = read_limited(self.master_key_file, 4096, "master key").decode(errors="replace")
        parts = text.split()
        if len(parts) != 2 or parts[0] != MASTER_KEY_FORMAT:
            raise malformed
        try:
            key = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        except binascii.Error:
            raise malformed from None
        if len(key) != 32:
            raise malformed
        return key

    def _sealer(self) -> MasterKeySealer:
        return MasterKeySealer(self.master_key(), _keyset_format())

    def load_keyset(self) -> SigningKeySet:
        """The signing keyset, opened with the master key."""
        # The JWT code is imported with the keyset: a command that only reads the
        # folder's accounts or clients loads none of it.
        from sealbox.jwt import SigningKeySet

        return SigningKeySet.load(self.keyset_file, sealer=self._sealer())

    def save_keyset(self, keyset: SigningKeySet) -> None:
        """Write the signing keyset back (after a rotation; merged with other writers')."""
        keyset.save(self.keyset_file, sealer=self._sealer())

    def keyset_watch(self) -> KeySetWatch:
        """A watch of the signing keyset file, for a serving process: load the keyset with
        its :meth:`~sealbox.jwt.keyset_watch.KeySetWatch.load`, and give the watch to
        :meth:`Accounts.open <sealbox.accounts.Accounts.open>` (``keyset_watch``), so that
        ``sealbox jwt keyset rotate --data-dir`` reaches the running workers.

        .. versionadded:: 0.1.0
        """
        from sealbox.jwt.keyset_watch import KeySetWatch  # see load_keyset

        return KeySetWatch(self.keyset_file, self.load_keyset)


def _keyset_format() -> str:
    from sealbox.jwt.keyset import SERVICE_SEALED_FORMAT  # see DataDir.load_keyset

    return SERVICE_SEALED_FORMAT


def __getattr__(name: str) -> Any:
    # KEYSET_FORMAT, the format of the sealed signing keyset, is the JWT package's: read
    # from it when asked for (see DataDir.load_keyset).
    if name == "KEYSET_FORMAT":
        return _keyset_format()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
