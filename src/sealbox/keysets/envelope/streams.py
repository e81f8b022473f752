"""Envelopes as streams: :class:`EnvelopeWriter` and :class:`EnvelopeReader`.

A ``stream`` envelope is written as its header, then an age v1 payload (64 KiB
ChaCha20-Poly1305 chunks, :mod:`sealbox.age.stream`), in constant memory; a reader opens
an envelope of either mode. Both are made by
:class:`~sealbox.keysets.envelope.cipher.EnvelopeCipher` (its ``encryptor`` and
``decryptor``), whose providers wrap and unwrap their data keys, and are importable from
:mod:`sealbox.keysets.envelope.cipher` as before.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from sealbox._util.aligned import AlignedWriter
from sealbox.age._source import Readable, Source, TextModeFileError, refuse_text_mode
from sealbox.age.stream import PayloadReader, PayloadWriter, Writable
from sealbox.exceptions import DecryptionError, FormatError
from sealbox.keysets.envelope._sealed import NONCE, ONE_SHOT, TAG, open_sealed
from sealbox.keysets.envelope.format import (
    DATA_KEY_SIZES,
    MAX_WRAPPED,
    MODE_STREAM,
    EnvelopeHeader,
    check_bytes,
    join_key_blob,
    parse_header,
)

if TYPE_CHECKING:
    from sealbox.keysets.envelope.cipher import EnvelopeCipher

__all__ = ["EnvelopeReader", "EnvelopeWriter"]

# The longest possible header: magic, mode, two names, version, wrapped key.
MAX_HEADER_SIZE: Final = 4 + 1 + 1 + 255 + 1 + 255 + 4 + 2 + MAX_WRAPPED


class EnvelopeWriter:
    """Streams a ``stream`` envelope: the header, then an age payload, in constant memory.

    The data key is made and wrapped (one provider call) when the writer is
    created. Leaving the ``with`` block normally seals the final chunk; leaving
    it with an exception does not, so an interrupted envelope never decrypts.
    Does not close ``dst``. A :meth:`write` of a ``str`` (or anything not bytes-like)
    and a :meth:`write_from` of a text-mode file raise ``TypeError`` before anything
    more is written: the writer stays usable, and the envelope is as if the call had
    not been made.
    """

    def __init__(
        self,
        cipher: EnvelopeCipher,
        dst: Writable,
        associated_data: bytes = b"",
        *,
        parallel: bool | None = None,
    ) -> None:
        refuse_text_mode(dst, "wb")
        check_bytes(associated_data, "associated_data")
        file_key = os.urandom(DATA_KEY_SIZES[MODE_STREAM])
        wrapped = cipher.provider.wrap(join_key_blob(file_key, MODE_STREAM, associated_data))
        self.header = EnvelopeHeader(MODE_STREAM, wrapped)
        # A raw output that takes part of a write is written to again, as age's Encryptor.
        dst = AlignedWriter.whole(dst)
        dst.write(self.header.to_bytes())
        self._payload = PayloadWriter(dst, file_key, parallel=parallel)

    @property
    def closed(self) -> bool:
        """Whether the envelope was finished (or abandoned)."""
        return self._payload.closed

    def writable(self) -> bool:
        """True until closed."""
        return not self.closed

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt ``data``; return its length.

        Raises:
            TypeError: ``data`` is not bytes-like (a ``str``: encode it first). It is
                refused before anything is written, and the writer stays usable: bytes
                written afterwards are encrypted as if the bad call never happened.
        """
        given: object = data  # typed bytes-like; a caller may still pass a str
        try:
            view = memoryview(data).cast("B")
        except TypeError:
            fix = (
                "encode it first (for example with .encode())"
                if isinstance(given, str)
                else "give bytes, a bytearray or a contiguous memoryview"
            )
            raise TypeError(
                f"EnvelopeWriter.write takes bytes, not {type(data).__name__}: {fix}"
            ) from None
        return self._payload.write(view)

    def write_from(self, src: Readable) -> int:
        """Encrypt everything ``src`` holds, reading straight into the chunk buffers.

        Raises:
            TextModeFileError: ``src`` is a text-mode file (``open(path)``,
                ``io.StringIO``); a ``TypeError`` with code ``text_mode_file``.
            TypeError: ``src`` is a path, a ``str`` or bytes rather than a file object.

            Either is refused before anything is read or written, and the writer stays
            usable.
        """
        given: object = src  # typed Readable; a caller may still pass a text file or a path
        if isinstance(given, io.TextIOBase):
            raise TextModeFileError(
                "EnvelopeWriter.write_from reads bytes, and the file object is in text "
                "mode: open it in binary mode ('rb')",
                hint="open the file with open(path, 'rb'), or give an io.BytesIO",
                facts={"mode": "rb"},
            )
        if isinstance(given, str | bytes | bytearray | memoryview | os.PathLike):
            raise TypeError(
                "EnvelopeWriter.write_from takes a binary file object (open(path, 'rb')), "
                f"not {type(given).__name__}: for bytes in memory use write(data)"
            )
        return self._payload.write_from(Source(src))

    def close(self) -> None:
        """Seal the final chunk; the envelope is complete only after this."""
        self._payload.close()

    def abort(self) -> None:
        """Stop without finishing: what was written will not decrypt."""
        self._payload.abort()

    def __enter__(self) -> EnvelopeWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class EnvelopeReader(io.RawIOBase):
    """Reads the plaintext of an envelope (either mode) from ``src``.

    The header is read and the data key unwrapped (and checked against the
    associated data) when the object is made, before any data is read. For a
    ``stream`` envelope, plaintext is released as chunks authenticate and the
    end (``b""``) comes only after the final chunk did; a ``sealed`` envelope is
    read and authenticated whole first.

    Raises:
        FormatError: not an envelope, or a malformed header.
        KeyNotFoundError, KeyStateError, KeyProviderError: as
            :meth:`EnvelopeCipher.decrypt`.
        DecryptionError: here (wrong associated data, a data key that does not
            unwrap) or while reading (altered or truncated data).
    """

    def __init__(
        self,
        cipher: EnvelopeCipher,
        src: Readable,
        associated_data: bytes = b"",
        *,
        parallel: bool | None = None,
    ) -> None:
        super().__init__()
        # Set first: a reader refused below is still closed when it is collected.
        self._payload: PayloadReader | io.BytesIO = io.BytesIO()
        check_bytes(associated_data, "associated_data")
        source = src if isinstance(src, Source) else Source(src)
        self.header, _ = _read_header(source)
        data_key = cipher._unwrap(self.header, associated_data)
        if self.header.mode == MODE_STREAM:
            self._payload = _payload_reader(source, data_key, parallel)
            return
        rest = bytearray()
        buf = memoryview(bytearray(1024 * 1024))
        while n := source.readinto_full(buf):
            rest += buf[:n]
            if len(rest) > NONCE + ONE_SHOT + TAG:
                raise DecryptionError
        self._payload = io.BytesIO(open_sealed(data_key, memoryview(rest), associated_data))

    def readable(self) -> bool:
        """True."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with plaintext; 0 at the authenticated end."""
        return self._payload.readinto(memoryview(buffer).cast("B"))

    def views(self) -> Iterator[memoryview]:
        """Yield the plaintext as views (each valid until the next is requested)."""
        if isinstance(self._payload, io.BytesIO):
            view = self._payload.getbuffer()[self._payload.tell() :]
            self._payload.seek(0, io.SEEK_END)
            if view:
                yield view
            return
        yield from self._payload.views()

    def close(self) -> None:
        """Release the buffers (does not close ``src``)."""
        if not self.closed and isinstance(self._payload, PayloadReader):
            self._payload.close()
        super().close()


# -- helpers ------------------------------------------------------------------------


def _payload_reader(src: Readable | Source, key: bytes, parallel: bool | None) -> PayloadReader:
    try:
        return PayloadReader(src, key, parallel=parallel)
    except FormatError:
        # The header was fine and the key unwrapped: missing data is tampering.
        raise DecryptionError from None


def _read_header(source: Source) -> tuple[EnvelopeHeader, int]:
    header, size = parse_header(source.peek(MAX_HEADER_SIZE))
    source.read(size)
    return header, size
