"""Envelope encryption: a fresh data key per object, wrapped by a key-encryption provider.

:class:`EnvelopeCipher` encrypts each value or file under its own random data
key and stores that key, wrapped by a :class:`~sealbox.keysets.envelope.providers.KeyProvider`,
in the envelope's header (the format is in :mod:`sealbox.keysets.envelope.format`).
Rotating the key-encryption key then never means re-encrypting the data:
:meth:`EnvelopeCipher.rewrap` replaces the header and leaves the data bytes as
they are.

Small values are sealed in one AES-256-GCM message (:meth:`EnvelopeCipher.encrypt`);
large ones are streamed as an age v1 payload (64 KiB ChaCha20-Poly1305 chunks,
:mod:`sealbox.age.stream`) in constant memory (:meth:`EnvelopeCipher.encryptor`,
:meth:`EnvelopeCipher.encrypt_file`; the readers and writers of streams are
:mod:`sealbox.keysets.envelope.streams`'s, importable from here as before).

Example::

    >>> from sealbox import Keyring
    >>> from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider
    >>> ring = Keyring.generate()
    >>> cipher = EnvelopeCipher(KeyringProvider(ring))
    >>> blob = cipher.encrypt(b"quarterly report", associated_data=b"reports/7")
    >>> cipher.decrypt(blob, associated_data=b"reports/7")
    b'quarterly report'
    >>> _ = ring.rotate()
    >>> cipher.needs_rewrap(blob)
    True
    >>> cipher.decrypt(cipher.rewrap(blob), associated_data=b"reports/7")
    b'quarterly report'

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, overload

from sealbox._util.files import (
    atomic_writer,
    file_exists_error,
    open_input,
    refuse_input_as_output,
)
from sealbox._util.locks import locked
from sealbox.age._source import Readable, Source
from sealbox.age.stream import Writable
from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    KeyNotFoundError,
    StorageError,
)
from sealbox.keysets.envelope._files import unchanged
from sealbox.keysets.envelope._sealed import ONE_SHOT, TAG, open_sealed, seal
from sealbox.keysets.envelope.format import (
    DATA_KEY_SIZES,
    MODE_SEALED,
    EnvelopeHeader,
    WrappedKey,
    check_bytes,
    envelope_bytes,
    envelope_text,
    join_key_blob,
    parse_header,
    split_key_blob,
)
from sealbox.keysets.envelope.providers import KeyProvider, check_providers
from sealbox.keysets.envelope.streams import (  # MAX_HEADER_SIZE: importable here as before
    MAX_HEADER_SIZE,  # noqa: F401
    EnvelopeReader,
    EnvelopeWriter,
    _payload_reader,
    _read_header,
)
from sealbox.keysets.fields import value_bytes

__all__ = ["EnvelopeCipher", "EnvelopeInfo", "EnvelopeReader", "EnvelopeWriter", "inspect"]

# The largest value whose sealed form opens in one AES-GCM call (the tag counts there);
# larger values go through a stream.
MAX_SEALED_SIZE: Final = ONE_SHOT - TAG
# The associated data of the AES-GCM call is 5 bytes longer than the caller's.
MAX_SEALED_ASSOCIATED_DATA: Final = ONE_SHOT - 5
_PARALLEL_FROM: Final = 4 * 1024 * 1024
_REWRAP_ATTEMPTS: Final = 5


@dataclass(frozen=True, slots=True)
class EnvelopeInfo:
    """What an envelope's header says, read without any key.

    Attributes:
        mode: ``sealed`` (one AES-256-GCM message) or ``stream`` (age payload).
        provider: the key-encryption provider (``keyring``, ``age``, ``vault-transit``).
        key_id: the key-encryption key.
        key_version: its version (Vault Transit), or ``None``.
        header_size: bytes of header before the data.
        wrapped_size: bytes of the wrapped data key.
    """

    mode: str
    provider: str
    key_id: str
    key_version: int | None
    header_size: int
    wrapped_size: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "format": "sealbox-envelope/1",
            "mode": self.mode,
            "provider": self.provider,
            "key_id": self.key_id,
            "key_version": self.key_version,
            "header_size": self.header_size,
            "wrapped_size": self.wrapped_size,
        }


def inspect(envelope: bytes | bytearray | memoryview | str) -> EnvelopeInfo:
    """Describe an envelope (binary or text form, or its header alone) without a key.

    Raises:
        FormatError: not an envelope, or a malformed header.
    """
    header, size = parse_header(envelope_bytes(envelope))
    w = header.wrapped
    return EnvelopeInfo(
        mode=header.mode_name,
        provider=w.provider,
        key_id=w.key_id,
        key_version=w.version or None,
        header_size=size,
        wrapped_size=len(w.ciphertext),
    )


class EnvelopeCipher:
    """Encrypt, decrypt and rewrap envelopes with key-encryption providers.

    Args:
        provider: wraps the data keys of new envelopes, and is what
            :meth:`rewrap` moves envelopes to.
        decrypt_with: more providers, for envelopes wrapped elsewhere (an old
            keyring, another Vault key) during a migration. The providers that
            :meth:`~KeyProvider.handles` an envelope try it in turn until one opens it.

    The cipher holds no state of its own and is safe to share between threads
    when its providers are.
    """

    __slots__ = ("_providers", "provider")

    def __init__(self, provider: KeyProvider, *, decrypt_with: Sequence[KeyProvider] = ()) -> None:
        self._providers = check_providers(provider, decrypt_with)
        self.provider = provider

    def __repr__(self) -> str:
        more = f", decrypt_with={list(self._providers[1:])!r}" if len(self._providers) > 1 else ""
        return f"EnvelopeCipher({self.provider!r}{more})"

    # -- values in memory -----------------------------------------------------------

    def encrypt(self, data: bytes, associated_data: bytes = b"") -> bytes:
        """Seal ``data`` in a ``sealed`` envelope under a fresh 32-byte data key.

        Args:
            data: the value (up to :data:`MAX_SEALED_SIZE`, 2 GiB less 17 bytes;
                stream anything larger).
            associated_data: context the envelope is bound to (an object name, a
                row id): decrypting needs the same bytes. Not stored.

        Raises:
            ConfigError: code ``value_too_large`` (a ``ValueError``): ``data`` is
                larger than :data:`MAX_SEALED_SIZE`, or ``associated_data`` larger
                than 2 GiB less 6 bytes; nothing was made.
            KeyProviderError: the provider failed (Vault unreachable…).
            TypeError: ``data`` or ``associated_data`` is not bytes-like (the message
                names which); the provider was not called.
        """
        check_bytes(data, "data")
        check_bytes(associated_data, "associated_data")
        if len(data) > MAX_SEALED_SIZE:
            raise ConfigError(
                f"values over {MAX_SEALED_SIZE} bytes must be streamed (EnvelopeCipher.encryptor)",
                code="value_too_large",
                facts={"size": str(len(data))},
            )
        if len(associated_data) > MAX_SEALED_ASSOCIATED_DATA:
            raise ConfigError(
                f"associated data over {MAX_SEALED_ASSOCIATED_DATA} bytes cannot be sealed; "
                "stream the value (EnvelopeCipher.encryptor), or bind a digest of it",
                code="value_too_large",
                facts={"associated_data_size": str(len(associated_data))},
            )
        data_key = os.urandom(DATA_KEY_SIZES[MODE_SEALED])
        wrapped = self.provider.wrap(join_key_blob(data_key, MODE_SEALED, associated_data))
        return EnvelopeHeader(MODE_SEALED, wrapped).to_bytes() + seal(
            data_key, data, associated_data
        )

    def encrypt_text(self, data: bytes | str, associated_data: bytes = b"") -> str:
        """:meth:`encrypt` returning the text form (URL-safe base64, no padding).

        A ``str`` value is encoded as UTF-8.

        Raises:
            ConfigError: code ``bad_value``, a ``str`` holding a lone surrogate (no
                UTF-8 form); the message quotes nothing of it.
        """
        if isinstance(data, str):
            data = value_bytes(data, "the value to encrypt")
        return envelope_text(self.encrypt(data, associated_data))

    def decrypt(
        self, envelope: bytes | bytearray | memoryview | str, associated_data: bytes = b""
    ) -> bytes:
        """Open an envelope of either mode, binary or text form, held in memory.

        Raises:
            FormatError: not an envelope, or a malformed header.
            KeyNotFoundError: no provider given can unwrap its data key.
            DecryptionError: wrong associated data, an altered envelope, a data
                key that does not unwrap (one message for every cause).
            KeyStateError: the provider refuses the key's version (Vault
                ``min_decryption_version``).
            KeyProviderError: the provider failed.
            TypeError: ``associated_data`` is not bytes-like; the provider was not called.
        """
        check_bytes(associated_data, "associated_data")
        raw = envelope_bytes(envelope)
        header, offset = parse_header(raw)
        data_key = self._unwrap(header, associated_data)
        body = memoryview(raw)[offset:]
        if header.mode == MODE_SEALED:
            return open_sealed(data_key, body, associated_data)
        reader = _payload_reader(io.BytesIO(body), data_key, len(body) > _PARALLEL_FROM)
        try:
            return b"".join(bytes(v) for v in reader.views())
        finally:
            reader.close()

    # -- rotation -------------------------------------------------------------------

    @overload
    def rewrap(self, envelope: str) -> str: ...

    @overload
    def rewrap(self, envelope: bytes | bytearray | memoryview) -> bytes: ...

    def rewrap(self, envelope: bytes | bytearray | memoryview | str) -> bytes | str:
        """Wrap an envelope's data key under the newest key-encryption key.

        Only the header changes; the data bytes after it are returned as they
        were, so an envelope's header alone can be rewrapped too. An envelope
        wrapped by one of the ``decrypt_with`` providers moves to ``provider``.
        A Vault Transit key is rewrapped inside Vault (the data key never leaves
        it); the other providers unwrap and wrap again.

        Returns:
            the new envelope, in the form (text or binary) it was given.

        Raises:
            as :meth:`decrypt`, except that the data is not read.
        """
        raw = envelope_bytes(envelope)
        header, offset = parse_header(raw)
        new = EnvelopeHeader(header.mode, self._rewrapped(header.wrapped)).to_bytes()
        out = new + bytes(memoryview(raw)[offset:])
        return envelope_text(out) if isinstance(envelope, str) else out

    def needs_rewrap(self, envelope: bytes | bytearray | memoryview | str) -> bool:
        """Whether the envelope is not yet under ``provider``'s newest key.

        An envelope's header names its key but not where the key is kept: when a
        ``decrypt_with`` provider names the same key too (one Vault Transit key name on
        two mounts), ``provider`` is asked to unwrap it to tell whose it is.

        Raises:
            FormatError: not an envelope.
            KeyProviderError: the provider could not tell (Vault unreachable).
        """
        header, _ = parse_header(envelope_bytes(envelope))
        return not self._is_current(header.wrapped)

    # -- streams --------------------------------------------------------------------

    def encryptor(
        self, dst: Writable, associated_data: bytes = b"", *, parallel: bool | None = None
    ) -> EnvelopeWriter:
        """Return a writer that streams a ``stream`` envelope into ``dst``.

        Use it as a context manager; see :class:`EnvelopeWriter`.
        """
        return EnvelopeWriter(self, dst, associated_data, parallel=parallel)

    def decryptor(
        self, src: Readable, associated_data: bytes = b"", *, parallel: bool | None = None
    ) -> EnvelopeReader:
        """Return a reader of the plaintext of the envelope read from ``src``.

        See :class:`EnvelopeReader`.
        """
        return EnvelopeReader(self, src, associated_data, parallel=parallel)

    def encrypt_file(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        associated_data: bytes = b"",
        *,
        overwrite: bool = False,
    ) -> None:
        """Encrypt the file ``src`` into a ``stream`` envelope at ``dst``, atomically.

        Raises:
            StorageError: ``dst`` exists (without ``overwrite``), is ``src``, or
                cannot be written. Nothing is left at ``dst`` on any error.
        """
        src_path, dst_path = Path(src), Path(dst)
        refuse_input_as_output(src_path, dst_path)
        with (
            open_input(src_path) as fin,
            atomic_writer(dst_path, mode=0o644, overwrite=overwrite, durable=False) as out,
            self.encryptor(out, associated_data) as enc,
        ):
            enc.write_from(fin)

    def decrypt_file(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        associated_data: bytes = b"",
        *,
        overwrite: bool = False,
    ) -> None:
        """Decrypt the envelope file ``src`` into ``dst`` (mode 0600), atomically.

        ``dst`` appears only after the whole envelope authenticated.

        Raises:
            StorageError: as :meth:`encrypt_file`.
            FormatError, KeyNotFoundError, DecryptionError, KeyProviderError: as
                :meth:`decrypt`.
        """
        src_path, dst_path = Path(src), Path(dst)
        refuse_input_as_output(src_path, dst_path)
        if not overwrite and dst_path.exists():
            raise file_exists_error(dst_path)
        with open_input(src_path) as fin:
            reader = self.decryptor(fin, associated_data)
            with reader, atomic_writer(dst_path, overwrite=overwrite, durable=False) as out:
                for view in reader.views():
                    out.write(view)

    def rewrap_file(self, path: str | os.PathLike[str], *, force: bool = False) -> bool:
        """Rewrap the envelope file at ``path`` in place; its data bytes are copied as they are.

        The new file replaces the old one atomically (same permissions). If another
        writer replaces or changes the file while it is being rewrapped, the rewrapped
        copy of the old version is dropped and the new version is rewrapped instead:
        what the other writer saved is never lost.

        Args:
            force: rewrap even when the envelope is already under the newest key.

        Returns:
            whether the file was rewritten.

        Raises:
            StorageError: the file cannot be read or replaced (it is left as it was), or
                it kept changing (code ``changed_meanwhile``).
            as :meth:`rewrap`.
        """
        target, attempt = Path(path), 1
        while True:
            try:
                # sealbox's writers take turns (the lock); the check in _rewrap_file_once
                # catches a writer that takes no lock.
                with locked(target):
                    return self._rewrap_file_once(target, force=force)
            except StorageError as exc:
                if exc.code != "changed_meanwhile" or attempt == _REWRAP_ATTEMPTS:
                    raise
                attempt += 1

    def _rewrap_file_once(self, target: Path, *, force: bool) -> bool:
        with open_input(target) as fin:
            opened = os.fstat(fin.fileno())
            source = Source(fin)
            header, _ = _read_header(source)
            w = header.wrapped
            if not force and self._is_current(w):
                return False
            new = EnvelopeHeader(header.mode, self._rewrapped(w)).to_bytes()
            mode = opened.st_mode & 0o777
            with atomic_writer(target, mode=mode, overwrite=True, durable=True) as out:
                out.write(new)
                buf = memoryview(bytearray(1024 * 1024))
                while n := source.readinto_full(buf):
                    out.write(buf[:n])
                # Raised inside the block, so the rewrapped copy is dropped, not renamed
                # over a version another writer saved since the file was opened.
                if not unchanged(target, opened):
                    raise StorageError(
                        f"{target} changed while it was being rewrapped, "
                        f"{_REWRAP_ATTEMPTS} times; it was left as the other writer saved it",
                        hint="rewrap it again once nothing else is writing it",
                        code="changed_meanwhile",
                    )
        return True

    # -- internals ------------------------------------------------------------------

    def _unwrap_blob(self, wrapped: WrappedKey, providers: Sequence[KeyProvider]) -> bytes:
        # Several may handle one envelope (any age provider with identities, one Transit
        # key name on two mounts): one that cannot open it must not hide one that can.
        error: DecryptionError | None = None
        for provider in providers:
            if provider.handles(wrapped):
                try:
                    return provider.unwrap(wrapped)
                except DecryptionError as exc:  # NoIdentityMatchError too
                    error = error or exc
        if error is not None:
            raise error
        raise KeyNotFoundError(
            f"no key-encryption provider given can unwrap {wrapped.provider} key "
            f"{wrapped.key_id!r}",
            hint="pass the provider that holds that key (decrypt_with=…)",
        )

    def _unwrap(self, header: EnvelopeHeader, associated_data: bytes) -> bytes:
        blob = self._unwrap_blob(header.wrapped, self._providers)
        return split_key_blob(blob, header.mode, associated_data)

    def _is_current(self, wrapped: WrappedKey) -> bool:
        if not (self.provider.handles(wrapped) and self.provider.is_current(wrapped)):
            return False
        if not any(p.handles(wrapped) for p in self._providers[1:]):
            return True
        # The header names a key, not where it is kept (one Transit key name on two
        # mounts): when another provider could hold it too, only opening it tells whose.
        try:
            self.provider.unwrap(wrapped)
        except DecryptionError:
            return False
        return True

    def _rewrapped(self, wrapped: WrappedKey) -> WrappedKey:
        others = self._providers[1:]
        if self.provider.handles(wrapped):
            try:
                return self.provider.rewrap(wrapped)
            except DecryptionError:
                if not any(p.handles(wrapped) for p in others):
                    raise
        return self.provider.wrap(self._unwrap_blob(wrapped, others))
