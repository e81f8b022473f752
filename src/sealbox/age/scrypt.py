"""The scrypt (passphrase) recipient type (age.md, "The scrypt recipient type").

The stanza is ``-> scrypt <salt> <log2 N>``; the file key is sealed under
``scrypt(N, r=8, p=1, S="age-encryption.org/v1/scrypt" || salt, P=passphrase)``.
A passphrase stanza must be the only stanza of its file.

Encryption uses age's work factor, log2 N = 18 (about half a second and
256 MiB). Decryption refuses work factors above :data:`MAX_WORK_FACTOR` (22,
age's own ceiling: 4 GiB and several seconds) so that a hostile file cannot make
sealbox spin or exhaust memory; pass ``max_work_factor`` to change it.

Passphrases are used as their UTF-8 bytes, exactly as typed (no Unicode
normalisation), as age does, so that files interoperate.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, ClassVar, Final, NoReturn

from sealbox.age._crypto import WRAPPED_KEY_SIZE, open_file_key, seal_file_key
from sealbox.age.format import Stanza, b64decode, b64encode
from sealbox.exceptions import ConfigError, FormatError
from sealbox.hazmat import kdf
from sealbox.secret import Secret

__all__ = [
    "DEFAULT_WORK_FACTOR",
    "MAX_WORK_FACTOR",
    "SCRYPT_LABEL",
    "STANZA_TYPE",
    "ScryptIdentity",
    "ScryptRecipient",
]

SCRYPT_LABEL: Final = b"age-encryption.org/v1/scrypt"
STANZA_TYPE: Final = "scrypt"
DEFAULT_WORK_FACTOR: Final = 18
MAX_WORK_FACTOR: Final = 22
SALT_SIZE: Final = 16
_DECIMAL = re.compile(r"[1-9][0-9]*\Z")
# The largest log2 N scrypt runs at all (sealbox.hazmat.kdf.ScryptParams; 1 PiB of memory).
_SCRYPT_CEILING: Final = 40


def _passphrase(value: str | bytes | Secret[Any]) -> bytes:
    if isinstance(value, Secret):
        value = value.expose_secret()
    if isinstance(value, str):
        value = kdf.text_bytes(value)  # as given: age does not normalize
    if not isinstance(value, bytes | bytearray):
        raise TypeError("the passphrase must be str, bytes or Secret")
    if not value:
        raise ConfigError("the passphrase is empty")
    return bytes(value)


def _wrap_key(passphrase: bytes, salt: bytes, log_n: int) -> bytes:
    return kdf.scrypt(passphrase, SCRYPT_LABEL + salt, kdf.ScryptParams(log_n))


class ScryptRecipient:
    """Encrypt to a passphrase. Must be the file's only recipient.

    Args:
        passphrase: the passphrase (``str`` is encoded as UTF-8).
        work_factor: log2 of scrypt's N; 18 as age, lower only in tests.
    """

    __slots__ = ("_passphrase", "_work_factor")
    labels: ClassVar[frozenset[str]] = frozenset()
    exclusive: ClassVar[bool] = True

    def __init__(
        self, passphrase: str | bytes | Secret[Any], *, work_factor: int = DEFAULT_WORK_FACTOR
    ) -> None:
        if not 1 <= work_factor <= 30:
            raise ConfigError("the scrypt work factor must be between 1 and 30")
        self._passphrase = _passphrase(passphrase)
        self._work_factor = work_factor

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Wrap ``file_key`` in a ``scrypt`` stanza with a fresh salt."""
        salt = os.urandom(SALT_SIZE)
        key = _wrap_key(self._passphrase, salt, self._work_factor)
        args = (b64encode(salt), str(self._work_factor))
        return [Stanza(STANZA_TYPE, args, seal_file_key(key, file_key))]

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self._work_factor})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a passphrase recipient cannot be pickled")


class ScryptIdentity:
    """Decrypt with a passphrase.

    Args:
        passphrase: the passphrase, or a function that returns it: it is then
            called only if the file turns out to be passphrase-encrypted (the
            command line asks on the terminal that way).
        max_work_factor: the largest log2 N accepted from a file.
    """

    __slots__ = ("_get", "_max", "_passphrase")

    #: The stanza types this identity opens (a wrong passphrase is then reported as such).
    stanza_types: ClassVar[frozenset[str]] = frozenset({STANZA_TYPE})

    def __init__(
        self,
        passphrase: str | bytes | Secret[Any] | Callable[[], str | bytes | Secret[Any]],
        *,
        max_work_factor: int = MAX_WORK_FACTOR,
    ) -> None:
        self._passphrase: bytes | None = None
        self._get: Callable[[], str | bytes | Secret[Any]] | None = None
        if callable(passphrase):
            self._get = passphrase
        else:
            self._passphrase = _passphrase(passphrase)
        self._max = max_work_factor

    def _secret(self) -> bytes:
        if self._passphrase is None:
            assert self._get is not None
            self._passphrase = _passphrase(self._get())
            self._get = None
        return self._passphrase

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """Unwrap a ``scrypt`` stanza; ``None`` for other types or a wrong passphrase.

        Raises:
            FormatError: malformed arguments, a body that is not 32 bytes, or a
                work factor above the maximum.
        """
        if stanza.type != STANZA_TYPE:
            return None
        if len(stanza.args) != 2:
            raise FormatError("a scrypt stanza must have exactly two arguments")
        salt = b64decode(stanza.args[0], "scrypt salt")
        if len(salt) != SALT_SIZE:
            raise FormatError("the scrypt salt is not 16 bytes")
        if not _DECIMAL.match(stanza.args[1]):
            raise FormatError(
                f"the scrypt work factor {stanza.args[1][:20]!r} is not a whole number from 1 "
                "up (decimal, without leading zeros)"
            )
        log_n = int(stanza.args[1]) if len(stanza.args[1]) <= 3 else 1000
        if log_n > _SCRYPT_CEILING:
            # No maximum opens it, so no hint to raise one: it cannot be a file to trust.
            raise FormatError(
                f"the scrypt work factor 2^{min(log_n, 999)} is beyond any scrypt (at most "
                f"2^{_SCRYPT_CEILING}): the file is damaged, or made to exhaust memory"
            )
        if log_n > self._max:
            raise FormatError(
                f"the scrypt work factor 2^{min(log_n, 999)} is above the maximum 2^{self._max}",
                hint="a file from a trusted source can be opened with a higher maximum",
                code="work_factor_too_high",
                facts={"work_factor": str(min(log_n, 999)), "maximum": str(self._max)},
            )
        if len(stanza.body) != WRAPPED_KEY_SIZE:
            raise FormatError("the scrypt stanza body is not 32 bytes")
        key = _wrap_key(self._secret(), salt, log_n)
        return open_file_key(key, stanza.body)

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self._max})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a passphrase identity cannot be pickled")
