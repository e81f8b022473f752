"""The audit log: one JSON object per line, for every authentication and transit event.

Fields: ``time`` (RFC 3339 UTC), ``event`` (``register``, ``login``, ``refresh``,
``logout``, ``password_change``, ``transit.encrypt``, …), ``user``, ``address``,
``outcome`` (``success``, ``failure``, ``throttled``, ``reuse_detected``,
``denied``…) and, for some events, ``detail``. Never a password, a token, a hash,
a plaintext or key material: the records are built from those fields only, and
the values given from outside (``user``, ``address``, ``detail``) also pass through
the redactor of :mod:`sealbox.secret`. The rest of a record is sealbox's own
vocabulary and is never redacted, so a registered secret such as ``password`` cannot
turn ``password_change`` into something no reader looks for, nor break the JSON.

Each record is one ``write()`` to a file opened with ``O_APPEND``, so lines from
several workers never interleave, and a record costs a few microseconds (no
logging machinery: transit writes one per operation). Each writer holds an advisory
``flock`` on the file for its ``write()``: a record cut short by a full disk is taken
back before another process can append after it. Every record is one line for
any reader, and shows as written: JSON escapes the C0 controls, and DEL, the C1 controls
(U+0085, which ``str.splitlines()`` splits on; U+009B, a terminal's CSI), the line
separators U+2028 and U+2029, lone surrogates and every format character (the bidi
controls, and the invisible ones: ``admin`` followed by U+200B shows as ``admin``) are
escaped too.

**Fail-closed**, as Vault's audit devices: a record that cannot be written (a full
disk, an I/O error) raises :class:`AuditUnavailableError`, the request that needed it
is refused (503 ``audit_unavailable``), and the failure is logged on stderr. The
service refuses to start with a log it cannot open.

**A change and its record are one unit.** The record of a change (a login's session, a
refresh's rotation or a reuse's revocation, a logout, a password change, a registration)
is written in the change's database transaction, as its last step before the commit
(:class:`ChangeRecord`): a record that cannot be written rolls the change back, so a
request refused ``audit_unavailable`` has changed nothing (no token issued that its client
never saw, no refresh token used up, no session ended, no account made or changed), and
the same request sent again once the log takes records is served as the first would have
been. A commit that fails after its record was written gets a second record, outcome
``not_committed``: the log never holds a change as made that was not. Its detail is fixed
(``the change recorded before was not made``), followed by what the change did that its
rollback does not undo, when it did (:meth:`ChangeRecord.keeps`: a client's tokens refused
on the revocation lists, ``…; the tokens of version 3 stay refused until they expire``).

**A torn last line** (a writer killed in the middle of a long record, a power cut) is
ended with a newline when the file is opened, so the next record is a line of its own.

**Rotation.** The file is reopened when it was moved away or replaced (logrotate's
``create``; checked before a record at most once a millisecond, one ``stat``: records
written in the millisecond after a move still land whole in the moved file) and on
:meth:`AuditLog.reopen` (SIGHUP).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import threading
import time
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from json.encoder import encode_basestring
from pathlib import Path
from types import TracebackType
from typing import Protocol

from sealbox._util.files import make_folder, os_reason, write_failed
from sealbox.exceptions import SealboxError, StorageError
from sealbox.secret import Redactor, default_redactor

__all__ = ["NOT_COMMITTED", "AuditLog", "AuditSink", "AuditUnavailableError", "ChangeRecord"]

log = logging.getLogger("sealbox.accounts")

# JSON escapes C0 controls only. Escaped here too, as JSON allows: DEL and the C1 controls
# (U+0085 is a line break for str.splitlines; U+009B is CSI, an ANSI escape to terminals
# that take 8-bit controls), the line separators U+2028 and U+2029, lone surrogates (no
# UTF-8 can hold them) and every format character (Unicode category Cf): the bidi controls
# (a viewer would show the record's text reordered), and the invisible ones (zero-width
# spaces and joiners, the soft hyphen, tag characters), with which "admin\u200b" shows as
# "admin".
_UNSAFE = re.compile(
    "[\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff"
    "\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match[0])
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    # Beyond the BMP, a JSON \u escape is a UTF-16 surrogate pair.
    code -= 0x10000
    return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"


#: How long, in seconds, the file may go unchecked for a move (the ``stat`` before a record).
ROTATION_CHECK_SECONDS = 0.001


def _json_value(value: object) -> str:
    """``value`` as ``json.dumps(value, ensure_ascii=False)`` writes it (a str at C speed)."""
    if value is None:
        return "null"
    if type(value) is str:
        return encode_basestring(value)
    return json.dumps(value, ensure_ascii=False)


class _Clock:
    """The record's ``time`` field: RFC 3339 UTC to the microsecond, as
    ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` writes it, the part up to the seconds
    formatted once a second."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        # One tuple, replaced whole: a thread never pairs one second's prefix with
        # another second's microseconds.
        self._held: tuple[int, str] = (-1, "")

    def now(self) -> str:
        micros = time.time_ns() // 1000
        second, fraction = divmod(micros, 1_000_000)
        held = self._held
        if held[0] != second:
            held = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S."))
            self._held = held
        return f"{held[1]}{fraction:06d}Z"


class AuditUnavailableError(SealboxError):
    """An audit record could not be written: the request must not be served.

    ``facts["problem"]``: why, as the system said it (``no space left on device``).
    """

    code = "audit_unavailable"


#: ``errno`` values of a file this user may not write: a read-only file system, a mode,
#: an immutable flag (which stops root too).
_NOT_WRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def _lock(fd: int) -> bool:
    """Take the writers' lock on the open log (``flock``, held for one ``write()``);
    ``False`` where the file system has no locks: records are then appended unlocked."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        return False
    return True


def _open_for_append(path: Path) -> int:
    """Open the log for appending; a log made here is exactly 0600, whatever the umask
    (under 0277 it would be 0400, which its owner could not open again to append).

    A log there already keeps the mode its owner gave it.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
    for _ in range(3):
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                return os.open(path, flags)
            except FileNotFoundError:
                continue  # removed meanwhile (rotated away): make it anew
        try:
            os.fchmod(fd, 0o600)
        except OSError:
            os.close(fd)
            raise
        return fd
    return os.open(path, flags | os.O_CREAT, 0o600)


def _not_opened(path: Path, exc: OSError) -> StorageError:
    """The error of an audit log that does not open for appending: code
    ``audit_log_not_writable`` (facts ``path``, ``problem``) when this user may not write
    it, ``disk_full`` when there is no room for it; a caller (the command line) can then
    say what to do instead of the system's words alone."""
    if exc.errno not in _NOT_WRITABLE:
        return write_failed(f"the audit log {path}", path, exc, verb="open")
    read_only = exc.errno == errno.EROFS
    return StorageError(
        f"cannot open the audit log {path}: {os_reason(exc)}",
        hint="what is audited waits until its record can be written: "
        + ("mount the file system read-write" if read_only else "let this user write the file"),
        code="audit_log_not_writable",
        facts={"path": str(path), "problem": os_reason(exc)},
    )


class AuditLog:
    """Append audit records to a JSON-lines file (safe with several worker processes).

    Raises:
        StorageError: the file cannot be opened for appending (code
            ``audit_log_not_writable``: this user may not write it, on a read-only file
            system or by its mode; ``disk_full``: no room for it).
    """

    def __init__(
        self,
        path: Path | None,
        *,
        redactor: Redactor | None = None,
        rotation_check: float = ROTATION_CHECK_SECONDS,
    ) -> None:
        self.path = path
        self._redactor = redactor or default_redactor
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._failed = False
        self._clock = _Clock()
        self._rotation_check = rotation_check
        self._checked = float("-inf")  # time.monotonic() of the last look for a move
        if path is not None:
            self._fd = self._open()

    def _open(self) -> int:
        assert self.path is not None
        try:
            # Missing folders are the owner's alone, as the data folder is; a file where a
            # folder should be is named as such (it was "file exists").
            make_folder(self.path.parent)
        except StorageError as exc:
            raise StorageError(
                f"cannot open the audit log {self.path}: {exc}", code=exc.code, facts=exc.facts
            ) from None
        try:
            fd = _open_for_append(self.path)
        except OSError as exc:
            raise _not_opened(self.path, exc) from None
        st = os.fstat(fd)
        self._identity = (st.st_dev, st.st_ino)
        if st.st_size:
            self._end_torn_line(fd)
        return fd

    def _end_torn_line(self, fd: int) -> None:
        """End a last line that lacks its newline (a writer killed in the middle of a long
        record, a power cut): the next record would be glued to it, and lost to readers.

        Best effort, at each open only (the service checks the file before its workers
        start): the file descriptor appends and cannot read, so the path is read.
        """
        assert self.path is not None
        try:
            rfd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        # Locked as a record is: two processes opening the file at once end it once.
        locked = _lock(fd)
        try:
            st = os.fstat(rfd)
            same = (st.st_dev, st.st_ino) == self._identity
            if same and st.st_size and os.pread(rfd, 1, st.st_size - 1) != b"\n":
                os.write(fd, b"\n")
        except OSError:
            pass  # the first record then says whether the file takes writes
        finally:
            if locked:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(rfd)

    def reopen(self) -> None:
        """Close the file and open it again at its path (after a rotation; on SIGHUP)."""
        if self.path is None:
            return
        with self._lock:
            try:
                self._reopen_locked()
            except StorageError as exc:
                log.error("%s", exc)  # noqa: TRY400 - the message says it all
                return
        log.info("reopened the audit log %s", self.path)

    def _reopen_locked(self) -> None:
        fd = self._open()
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd

    def _moved_away(self) -> bool:
        """Whether the file at the path is no longer the open one (looked at no more
        than once per ``rotation_check`` seconds; ``False`` in between)."""
        assert self.path is not None
        now = time.monotonic()
        if now - self._checked < self._rotation_check:
            return False
        self._checked = now
        try:
            st = self.path.stat()
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != self._identity

    def record(
        self,
        event: str,
        *,
        outcome: str,
        user: str | None = None,
        address: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Write one record.

        Raises:
            AuditUnavailableError: the record could not be written (logged on stderr).
        """
        if self.path is None:
            return
        # Only the values given from outside pass through the redactor: a registered
        # secret that happens to spell part of an event name, a key or the JSON
        # punctuation must not reshape the record.
        redact = self._redactor.redact
        user = None if user is None else redact(user)
        address = None if address is None else redact(address)
        detail = None if not detail else redact(detail)
        # The document json.dumps(entry, ensure_ascii=False) writes, field by field.
        text = (
            f'{{"time": "{self._clock.now()}", "event": {_json_value(event)}, '
            f'"outcome": {_json_value(outcome)}, "user": {_json_value(user)}, '
            f'"address": {_json_value(address)}'
            + (f', "detail": {_json_value(detail)}}}' if detail else "}")
        )
        if not text.isascii() or "\x7f" in text:
            text = _UNSAFE.sub(_escaped, text)
        data = (text + "\n").encode()
        problem = None
        with self._lock:
            try:
                if self._fd is None or self._moved_away():
                    self._reopen_locked()
                assert self._fd is not None
                self._write_line(self._fd, data)
            except StorageError as exc:
                problem = str(exc)
            except OSError as exc:
                problem = exc.strerror or type(exc).__name__
            if problem is None:
                if self._failed:
                    log.warning("the audit log %s is writable again", self.path)
                self._failed = False
                return
            if not self._failed:
                log.error(
                    "cannot write the audit log %s: %s; refusing requests until it can be",
                    self.path,
                    problem,
                )
            self._failed = True
        raise AuditUnavailableError(
            f"the audit log cannot be written: {problem}", facts={"problem": problem.lower()}
        )

    @staticmethod
    def _write_line(fd: int, data: bytes) -> None:
        # One write() per line: O_APPEND keeps it whole among other writers. The lock, held
        # by every writer for its write() alone, is for a short write (a full disk getting
        # room back meanwhile): without it another writer could append after the partial
        # line before it is taken back (gluing its record to half of this one), or between
        # the size check and the truncation (which would take its whole record away).
        locked = _lock(fd)
        try:
            written = os.write(fd, data)
            if written == len(data):
                return
            # Take the partial line back, so that readers never meet half a record —
            # unless a writer that does not lock has appended after it meanwhile.
            end = os.lseek(fd, 0, os.SEEK_CUR)
            if os.fstat(fd).st_size == end:
                os.ftruncate(fd, end - written)
        finally:
            if locked:
                fcntl.flock(fd, fcntl.LOCK_UN)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class AuditSink(Protocol):
    """Where sign-in events go (:class:`AuditLog`, or your own)."""

    def record(
        self,
        event: str,
        *,
        outcome: str,
        user: str | None = None,
        address: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Write one event; never a password or a token."""


#: The detail of a ``not_committed`` record, before the facts :meth:`ChangeRecord.keeps` adds.
NOT_COMMITTED = "the change recorded before was not made"

# The ChangeRecord whose ``with`` the running code is in (each task its own): the code of a
# change reaches it through ChangeRecord.open() to say what its rollback does not undo.
_OPEN: ContextVar[ChangeRecord | None] = ContextVar("sealbox_change_record", default=None)


class ChangeRecord:
    """The audit record of one change, written by the change's transaction just before it
    commits (:meth:`write`, called from inside it), around which ``with`` stands.

    A record that cannot be written raises :class:`AuditUnavailableError` in the
    transaction, which rolls the change back. An exception that leaves the ``with`` after
    the record was written (the commit failed) writes a second record, outcome
    ``not_committed`` (best effort: a log that refuses it is logged on stderr), so that
    the first is never read as a change made; its detail is :data:`NOT_COMMITTED`, then
    each fact given to :meth:`keeps`, after ``; ``.
    """

    __slots__ = (
        "_committed",
        "_entered",
        "_kept",
        "_sink",
        "_written",
        "address",
        "detail",
        "event",
        "user",
    )

    def __init__(
        self,
        sink: AuditSink,
        event: str,
        *,
        user: str | None,
        address: str | None,
        detail: str | None = None,
    ) -> None:
        self._sink = sink
        self.event = event
        self.user = user
        self.address = address
        self.detail = detail  # written when write() is given none (who made the change)
        self._written = False
        self._committed = False
        self._kept: list[str] = []
        self._entered: list[Token[ChangeRecord | None]] = []

    @staticmethod
    def open() -> ChangeRecord | None:
        """The record whose ``with`` the calling code runs in (in this task), if any: the
        code of a change, called by its caller inside the ``with``, reaches it here to say
        what it did that a rollback does not undo (:meth:`keeps`)."""
        return _OPEN.get()

    def keeps(self, fact: str) -> None:
        """Add ``fact`` to the ``not_committed`` record, should one follow: what the change's
        transaction did, once its record was written, that its rollback does not undo
        (``the tokens of version 3 stay refused until they expire``). Never a secret; it
        passes the log's redactor as every ``detail`` does."""
        if fact not in self._kept:
            self._kept.append(fact)

    def committed(self) -> None:
        """The change's transaction committed: an exception that leaves the ``with`` from
        here on (a follow-up after the commit that failed, such as the revocation lists'
        sweep) writes no ``not_committed`` record, as the change is made. Called by
        :func:`~sealbox.accounts.revocation.after_commit` for the record open around it."""
        self._committed = True

    @property
    def written(self) -> bool:
        """Whether the record was written (and not taken back by a ``not_committed`` one)."""
        return self._written

    def write(
        self, outcome: str = "success", *, user: str | None = None, detail: str | None = None
    ) -> None:
        """Write the change's record (``user``: another name than the one given first)."""
        if user is not None:
            self.user = user
        detail = self.detail if detail is None else detail
        self._sink.record(
            self.event, outcome=outcome, user=self.user, address=self.address, detail=detail
        )
        self._written = True

    def __enter__(self) -> ChangeRecord:
        self._written = False
        self._committed = False
        self._kept = []
        self._entered.append(_OPEN.set(self))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._entered:
            with contextlib.suppress(ValueError):  # left in another context than entered
                _OPEN.reset(self._entered.pop())
        kept, self._kept = self._kept, []
        if exc is None or not self._written or self._committed:
            return
        self._written = False
        with contextlib.suppress(AuditUnavailableError):  # logged on stderr by the log
            self._sink.record(
                self.event,
                outcome="not_committed",
                user=self.user,
                address=self.address,
                detail="; ".join([NOT_COMMITTED, *kept]),
            )
