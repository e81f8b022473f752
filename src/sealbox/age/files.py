"""Encrypting and decrypting whole age files: streams over file objects and path helpers.

:class:`Encryptor` is a writable object that encrypts what is written to it;
:class:`Decryptor` a readable one that decrypts. Both work in constant memory,
whatever the size of the file. :func:`encrypt_file` and :func:`decrypt_file`
go from path to path and never leave a partial file: the output is written to a
temporary file in the target folder, forced to disk (``fsync``) and renamed only
after the last chunk was sealed (or, decrypting, authenticated).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from sealbox._util.files import (
    AlignedWriter,
    atomic_writer,
    file_exists_error,
    is_special,
    open_input,
    refuse_input_as_output,
)
from sealbox.age import armor as _armor
from sealbox.age._base import Identity, Recipient, unwrap_file_key, wrap_file_key
from sealbox.age._crypto import FILE_KEY_SIZE
from sealbox.age._positional import regular_fd
from sealbox.age._source import Readable, Source, refuse_text_mode
from sealbox.age.format import Header, read_header
from sealbox.age.stream import (
    PayloadReader,
    PayloadWriter,
    Writable,
)
from sealbox.exceptions import DecryptionError, StorageError

__all__ = [
    "Decryptor",
    "Encryptor",
    "decrypt",
    "decrypt_file",
    "encrypt",
    "encrypt_file",
]

HEADER_MAC_FAILED: Final = "the file header failed authentication: the file was altered"
Progress = Callable[[int], None]


class Encryptor:
    """Encrypts everything written to it into ``dst`` as an age file.

    Use it as a context manager: leaving the block normally seals the final
    chunk (and writes the armor's end line); leaving it with an exception does
    not, so an interrupted file never decrypts as if it were complete. Does not
    close ``dst``.

    Args:
        dst: a binary file object (or anything with ``write``).
        recipients: who can decrypt (see :func:`sealbox.age.parse_recipient`).
        armor: write the ASCII-armored form.
        parallel: write on a second thread while the caller's seals (default:
            when 2+ CPUs).

    Raises:
        ConfigError: no recipient, or recipients that cannot be mixed.

    Example::

        >>> import io
        >>> from sealbox.age import X25519Identity
        >>> me = X25519Identity.generate()
        >>> out = io.BytesIO()
        >>> with Encryptor(out, [me.recipient()]) as enc:
        ...     _ = enc.write(b"hello")
        >>> Decryptor(io.BytesIO(out.getvalue()), [me]).read()
        b'hello'
    """

    def __init__(
        self,
        dst: Writable,
        recipients: Sequence[Recipient],
        *,
        armor: bool = False,
        parallel: bool | None = None,
    ) -> None:
        refuse_text_mode(dst, "wb")
        file_key = os.urandom(FILE_KEY_SIZE)
        header = Header.build(wrap_file_key(recipients, file_key), file_key)
        dst = AlignedWriter.whole(dst)
        self._armor = _armor.ArmorWriter(dst) if armor else None
        out: Writable = self._armor if self._armor is not None else dst
        out.write(header.to_bytes())
        self._payload = PayloadWriter(out, file_key, parallel=parallel)

    @property
    def closed(self) -> bool:
        """Whether the file was finished (or abandoned)."""
        return self._payload.closed

    def writable(self) -> bool:
        """True until closed."""
        return not self.closed

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt ``data``; return its length."""
        return self._payload.write(memoryview(data))

    def write_from(self, src: Readable, progress: Progress | None = None) -> int:
        """Encrypt all that ``src`` holds, reading straight into the chunk buffers."""
        source = Source(src)
        if progress is None:
            return self._payload.write_from(source)
        return self._payload.write_from(_CountingSource(source, progress))

    def _seal_file(
        self,
        src: Readable,
        dst: AlignedWriter,
        progress: Progress | None,
        *,
        processes: bool = False,
    ) -> bool:
        """Encrypt all of ``src`` into ``dst`` and finish, if both are regular files.

        Returns false, having done nothing, when they are not (or when armored).
        """
        if self._armor is not None:
            return False

        def seal(src_fd: int, src_offset: int, dst_fd: int, dst_offset: int) -> tuple[int, int]:
            return self._payload.seal_file(
                src_fd, src_offset, dst_fd, dst_offset, progress, processes=processes
            )

        return _in_place(src, 0, dst, seal)

    def flush(self) -> None:
        """Nothing to do (chunks are written as soon as they are sealed)."""

    def close(self) -> None:
        """Seal the final chunk; the file is complete only after this."""
        if self._payload.closed:
            return
        self._payload.close()
        if self._armor is not None:
            self._armor.close()

    def abort(self) -> None:
        """Stop without finishing: the output will not decrypt (it has no final chunk)."""
        self._payload.abort()

    def __enter__(self) -> Encryptor:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _CountingSource(Source):
    """A source that reports how many bytes went through it."""

    __slots__ = ("_inner", "_progress")

    def __init__(self, inner: Source, progress: Progress) -> None:
        self._inner = inner
        self._progress = progress

    def readinto_full(self, buf: memoryview) -> int:
        n = self._inner.readinto_full(buf)
        self._progress(n)
        return n


def _in_place(
    src: object,
    read_ahead: int,
    dst: AlignedWriter,
    run: Callable[[int, int, int, int], tuple[int, int]],
) -> bool:
    """Call ``run(src fd, src offset, dst fd, dst offset)`` if both files are regular.

    ``read_ahead`` bytes of ``src`` were read but not used: its offset is that
    much before where it stands. Both files are left after what ``run`` read and
    wrote. Returns false, having done nothing, when a file is not regular.
    """
    src_fd, dst_fd = regular_fd(src), regular_fd(dst, writing=True)
    if src_fd is None or dst_fd is None:
        return False
    try:
        src_offset = src.tell() - read_ahead  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
    dst.flush()
    dst_offset = os.lseek(dst_fd, 0, os.SEEK_CUR)
    read, written = run(src_fd, src_offset, dst_fd, dst_offset)
    src.seek(src_offset + read)  # type: ignore[attr-defined]
    dst.moved_to(dst_offset + written)
    return True


def _open_source(src: Readable | Source) -> tuple[Source, bool]:
    source = src if isinstance(src, Source) else Source(src)
    if _armor.is_armored(source.peek(4096)):
        return Source(_armor.ArmorReader(source)), True
    return source, False


class Decryptor(io.RawIOBase):
    """Decrypts an age file (binary or armored) read from ``src``.

    The header is read, and the file key unwrapped and checked against the header
    MAC, when the object is made; plaintext is released as chunks authenticate.
    The end of data (``b""``) comes only after the final chunk authenticated.

    Args:
        src: a binary file object positioned at the start of the age file.
        identities: what to try, in order (see :func:`sealbox.age.parse_identities`).
        parallel: read and open on a second thread while the caller's uses the
            plaintext (default: when 2+ CPUs).

    Raises:
        FormatError: the header or the armor is malformed (the message says where).
        NoIdentityMatchError: none of the identities opens the file.
        DecryptionError: the header MAC does not match (here), or the payload is
            truncated or altered (while reading).
    """

    def __init__(
        self,
        src: Readable,
        identities: Sequence[Identity],
        *,
        parallel: bool | None = None,
    ) -> None:
        super().__init__()
        source, self.armored = _open_source(src)
        self._source = source
        self.header = read_header(source)
        file_key = unwrap_file_key(identities, self.header.stanzas)
        if not self.header.verify_mac(file_key):
            raise DecryptionError(HEADER_MAC_FAILED)
        self._payload = PayloadReader(source, file_key, parallel=parallel)

    def readable(self) -> bool:
        """True."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with plaintext; 0 at the authenticated end."""
        return self._payload.readinto(memoryview(buffer))

    def views(self) -> Iterator[memoryview]:
        """Yield the plaintext as views into internal buffers (copy-free).

        Each view is valid until the next one is requested.
        """
        return self._payload.views()

    def _open_file(
        self, dst: AlignedWriter, progress: Progress | None, *, processes: bool = False
    ) -> bool:
        """Decrypt all of the payload into ``dst``, if the input and ``dst`` are regular files.

        Returns false, having done nothing, when they are not (or when armored).
        """
        if self.armored:
            return False

        def open_(src_fd: int, src_offset: int, dst_fd: int, dst_offset: int) -> tuple[int, int]:
            return self._payload.open_file(
                src_fd, src_offset, dst_fd, dst_offset, progress, processes=processes
            )

        if not _in_place(self._source.raw, self._source.buffered(), dst, open_):
            return False
        self._source.drop_buffered()
        return True

    def close(self) -> None:
        """Release the buffers (does not close ``src``)."""
        if not self.closed:
            self._payload.close()
        super().close()


def seal_into(
    src: Readable,
    dst: AlignedWriter,
    recipients: Sequence[Recipient],
    *,
    armor: bool = False,
    progress: Progress | None = None,
    processes: bool = False,
) -> None:
    """Encrypt all of ``src`` into ``dst`` as one whole age file.

    What :func:`encrypt_file` and ``sealbox encrypt`` do. Between two regular
    files the payload is sealed in place on two threads
    (:mod:`sealbox.age._positional`), or with ``processes`` in two processes
    where forking is safe (the command line does); otherwise it is streamed.
    """
    with Encryptor(dst, recipients, armor=armor) as enc:
        if not enc._seal_file(src, dst, progress, processes=processes):
            enc.write_from(src, progress)


def open_into(
    dec: Decryptor,
    dst: AlignedWriter,
    progress: Progress | None = None,
    *,
    processes: bool = False,
) -> None:
    """Write all of the plaintext of ``dec`` into ``dst``.

    What :func:`decrypt_file` and ``sealbox decrypt`` do: in place on two threads
    (or processes, as :func:`seal_into`) between two regular files, streamed
    otherwise. On an error, what reached ``dst`` must be thrown away.
    """
    if dec._open_file(dst, progress, processes=processes):
        return
    for view in dec.views():
        dst.write(view)
        if progress is not None:
            progress(len(view))


def encrypt(data: bytes, recipients: Sequence[Recipient], *, armor: bool = False) -> bytes:
    """Encrypt ``data`` into a whole age file in memory.

    For anything large use :class:`Encryptor` or :func:`encrypt_file`.
    """
    out = io.BytesIO()
    with Encryptor(out, recipients, armor=armor, parallel=len(data) > 4 * 1024 * 1024) as enc:
        enc.write(data)
    return out.getvalue()


def decrypt(data: bytes, identities: Sequence[Identity]) -> bytes:
    """Decrypt a whole age file (binary or armored) held in memory.

    Raises:
        FormatError, NoIdentityMatchError, DecryptionError: as :class:`Decryptor`.
    """
    dec = Decryptor(io.BytesIO(data), identities, parallel=len(data) > 4 * 1024 * 1024)
    with dec:
        return b"".join(bytes(v) for v in dec.views())


def _check_paths(src: str, dst: str) -> None:
    if is_special(dst):  # /dev/null, a named pipe: written into, never replaced
        return
    if os.path.isdir(dst):  # refused before the work: the rename at the end would fail
        raise StorageError(f"{dst} is a directory", hint="name the output file")
    refuse_input_as_output(src, dst)


def encrypt_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    recipients: Sequence[Recipient],
    *,
    armor: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> None:
    """Encrypt the file ``src`` into ``dst``, atomically and durably (on disk before the rename).

    Args:
        progress: called with the number of plaintext bytes read, batch by batch.

    Raises:
        StorageError: ``dst`` exists (without ``overwrite``), is ``src`` itself or a
            directory, or cannot be written (or ``src`` read). Nothing is left at ``dst``
            on any error.
        ConfigError: as :class:`Encryptor`.
    """
    src_path, dst_path = os.fspath(src), os.fspath(dst)
    _check_paths(src_path, dst_path)
    try:
        with (
            open_input(src_path) as fin,
            atomic_writer(dst_path, mode=0o644, overwrite=overwrite) as out,
        ):
            seal_into(fin, AlignedWriter(out), recipients, armor=armor, progress=progress)
    except OSError as exc:  # a full disk, an I/O error
        raise _failed("encrypt", src_path, dst_path, exc) from None


def decrypt_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    identities: Sequence[Identity],
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> None:
    """Decrypt the age file ``src`` into ``dst`` (mode 0600), atomically and durably.

    ``dst`` appears only once the final chunk has authenticated; on any error
    (or an interruption) nothing is left there.

    Args:
        progress: called with the number of plaintext bytes written.

    Raises:
        StorageError: ``dst`` exists (without ``overwrite``), is ``src`` itself or a
            directory, or cannot be written (or ``src`` read).
        FormatError, NoIdentityMatchError, DecryptionError: as :class:`Decryptor`.
    """
    src_path, dst_path = os.fspath(src), os.fspath(dst)
    _check_paths(src_path, dst_path)
    if not overwrite and os.path.exists(dst_path) and not is_special(dst_path):
        raise file_exists_error(dst_path)
    try:
        with open_input(src_path) as fin:
            dec = Decryptor(fin, identities)
            with dec, atomic_writer(dst_path, mode=0o600, overwrite=overwrite) as fh:
                open_into(dec, AlignedWriter(fh), progress)
    except OSError as exc:  # a full disk, an I/O error
        raise _failed("decrypt", src_path, dst_path, exc) from None


def _failed(verb: str, src: str, dst: str, exc: OSError) -> StorageError:
    reason = (exc.strerror or str(exc)).lower()
    return StorageError(f"cannot {verb} {src} into {dst}: {reason}", facts={"path": dst})
