"""The X25519 recipient type (age.md, "The X25519 recipient type").

Recipients are ``age1…`` strings, identities ``AGE-SECRET-KEY-1…``. The stanza
is ``-> X25519 <ephemeral share>`` with the file key sealed under
``HKDF-SHA-256(ikm=shared secret, salt=share || recipient,
info="age-encryption.org/v1/X25519")``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar, Final, NoReturn

from sealbox.age import bech32
from sealbox.age._crypto import WRAPPED_KEY_SIZE, hkdf, open_file_key, seal_file_key
from sealbox.age.format import Stanza, b64decode, b64encode
from sealbox.exceptions import FormatError, KeyFormatError
from sealbox.hazmat.bindings import x25519_private_key, x25519_public_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

__all__ = [
    "IDENTITY_HRP",
    "RECIPIENT_HRP",
    "STANZA_TYPE",
    "X25519_LABEL",
    "X25519Identity",
    "X25519Recipient",
    "refuse_low_order",
]

X25519_LABEL: Final = b"age-encryption.org/v1/X25519"
STANZA_TYPE: Final = "X25519"
RECIPIENT_HRP: Final = "age"
IDENTITY_HRP: Final = "AGE-SECRET-KEY-"
KEY_SIZE: Final = 32


def exchange(private: X25519PrivateKey, share: bytes) -> bytes:
    """X25519 with the all-zero result refused (low-order share).

    Raises:
        FormatError: the share is a low-order point.
    """
    try:
        return private.exchange(x25519_public_key(share))
    except ValueError:
        raise FormatError("the X25519 share is a low-order point") from None


def refuse_low_order(public: bytes, kind: str) -> None:
    """Refuse an X25519 public key of small order, which no key pair has.

    Every exchange with it gives the all-zero shared secret, which age.md says
    must be refused: found once, when the key is read, rather than as a bare
    ``ValueError`` from the first encryption to it.

    Raises:
        KeyFormatError: ``public`` is a low-order point.
    """
    try:
        # Any scalar will do: clamping makes it a multiple of the cofactor, so the
        # result is zero exactly for the points of small order.
        x25519_private_key(b"\x01" * KEY_SIZE).exchange(x25519_public_key(public))
    except ValueError:
        raise KeyFormatError(
            f"the {kind} is a low-order point: no one holds its private key, "
            "and age refuses to encrypt to it"
        ) from None


class X25519Recipient:
    """An X25519 public key to encrypt files to (``age1…``).

    Example::

        >>> identity = X25519Identity.generate()
        >>> str(identity.recipient()).startswith("age1")
        True
    """

    __slots__ = ("_key", "_raw")
    labels: ClassVar[frozenset[str]] = frozenset()
    exclusive: ClassVar[bool] = False

    def __init__(self, public_key: bytes, *, _own: bool = False) -> None:
        if len(public_key) != KEY_SIZE:
            raise ValueError("an X25519 public key is 32 bytes")
        if not _own:  # an identity's own public key (_own) is never of small order
            refuse_low_order(public_key, "X25519 recipient")
        self._raw = bytes(public_key)
        self._key = x25519_public_key(self._raw)

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        """Parse an ``age1…`` string.

        Raises:
            KeyFormatError: not a valid X25519 recipient.
        """
        hrp, data = bech32.decode(text.strip())
        if hrp != RECIPIENT_HRP:
            raise KeyFormatError(f"not an X25519 recipient: the prefix is {hrp!r}, not 'age'")
        if len(data) != KEY_SIZE:
            raise KeyFormatError("an X25519 recipient holds 32 bytes")
        return cls(data)

    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self._raw

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Wrap ``file_key`` in a fresh ``X25519`` stanza (new ephemeral key each time)."""
        ephemeral = x25519_private_key(os.urandom(KEY_SIZE))
        share = ephemeral.public_key().public_bytes_raw()
        shared = ephemeral.exchange(self._key)
        wrap_key = hkdf(shared, share + self._raw, X25519_LABEL)
        return [Stanza(STANZA_TYPE, (b64encode(share),), seal_file_key(wrap_key, file_key))]

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._raw)

    def __repr__(self) -> str:
        return f"X25519Recipient({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash((X25519Recipient, self._raw))


class X25519Identity:
    """An X25519 private key (``AGE-SECRET-KEY-1…``). Never printed; not picklable."""

    __slots__ = ("_key", "_recipient")

    def __init__(self, private_key: bytes) -> None:
        if len(private_key) != KEY_SIZE:
            raise ValueError("an X25519 private key is 32 bytes")
        self._key = x25519_private_key(bytes(private_key))
        self._recipient = X25519Recipient(self._key.public_key().public_bytes_raw(), _own=True)

    @classmethod
    def generate(cls) -> X25519Identity:
        """Return a new random identity."""
        return cls(os.urandom(KEY_SIZE))

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        """Parse an ``AGE-SECRET-KEY-1…`` string.

        Raises:
            KeyFormatError: not a valid X25519 identity (the message never quotes it).
        """
        hrp, data = bech32.decode(text.strip())
        if hrp.upper() != IDENTITY_HRP:
            raise KeyFormatError("not an X25519 identity: it must start with AGE-SECRET-KEY-1")
        if len(data) != KEY_SIZE:
            raise KeyFormatError("an X25519 identity holds 32 bytes")
        return cls(data)

    def recipient(self) -> X25519Recipient:
        """The matching public key."""
        return self._recipient

    def expose_secret(self) -> str:
        """The identity as ``AGE-SECRET-KEY-1…``: the one way the secret comes out."""
        return bech32.encode(IDENTITY_HRP, self._key.private_bytes_raw())

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """Unwrap an ``X25519`` stanza addressed to this key; ``None`` otherwise.

        Raises:
            FormatError: an ``X25519`` stanza with the wrong arguments, a share
                that is not 32 canonical bytes or is low-order, or a body that is
                not 32 bytes.
        """
        if stanza.type != STANZA_TYPE:
            return None
        if len(stanza.args) != 1:
            raise FormatError("an X25519 stanza must have exactly one argument")
        share = b64decode(stanza.args[0], "X25519 share")
        if len(share) != KEY_SIZE:
            raise FormatError("the X25519 share is not 32 bytes")
        if len(stanza.body) != WRAPPED_KEY_SIZE:
            raise FormatError("the X25519 stanza body is not 32 bytes")
        shared = exchange(self._key, share)
        wrap_key = hkdf(shared, share + self._recipient.public_bytes(), X25519_LABEL)
        return open_file_key(wrap_key, stanza.body)

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={str(self._recipient)!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an identity holds a private key and cannot be pickled")
