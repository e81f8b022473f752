"""Recipients and identities: the interfaces, and the rules for wrapping and unwrapping.

A recipient wraps the file key into stanzas; an identity recognises the stanzas
addressed to it and unwraps the file key (age.md, "Recipient stanza").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final, Protocol, runtime_checkable

from sealbox.age._crypto import FILE_KEY_SIZE
from sealbox.age.format import Stanza
from sealbox.exceptions import ConfigError, FormatError, NoIdentityMatchError

__all__ = ["Identity", "Recipient", "unwrap_file_key", "wrap_file_key"]

SCRYPT_STANZA: Final = "scrypt"


@runtime_checkable
class Recipient(Protocol):
    """Something a file can be encrypted to.

    ``labels`` are compared across the recipients of one file: they must all
    be equal (a post-quantum recipient carries ``{"postquantum"}`` so that it is
    never mixed with classic ones). ``exclusive`` recipients (a passphrase)
    must be alone.
    """

    labels: ClassVar[frozenset[str]]
    exclusive: ClassVar[bool]

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Return the stanzas that carry ``file_key`` to this recipient."""
        ...


@runtime_checkable
class Identity(Protocol):
    """Something that can open files: a private key or a passphrase."""

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """Return the file key, or ``None`` if the stanza is not for this identity.

        Raises:
            FormatError: the stanza is of this identity's type but malformed.
        """
        ...


def wrap_file_key(recipients: Sequence[Recipient], file_key: bytes) -> list[Stanza]:
    """Wrap ``file_key`` for every recipient, enforcing the rules on mixing them.

    Raises:
        ConfigError: no recipient; a passphrase together with other recipients;
            post-quantum recipients mixed with classic ones.
    """
    _check_items(recipients, "wrap", "recipient")
    if not recipients:
        raise ConfigError("at least one recipient is needed")
    if len(recipients) > 1 and any(r.exclusive for r in recipients):
        raise ConfigError(
            "a passphrase cannot be combined with other recipients",
            hint="encrypt to the recipients, or to a passphrase alone",
        )
    if len({r.labels for r in recipients}) > 1:
        raise ConfigError(
            "post-quantum recipients cannot be mixed with classic ones",
            hint="the file would only be as safe as its classic recipients; "
            "use only age1pq1… recipients",
        )
    stanzas: list[Stanza] = []
    for r in recipients:
        stanzas.extend(r.wrap(file_key))
    return stanzas


def unwrap_file_key(identities: Sequence[Identity], stanzas: Sequence[Stanza]) -> bytes:
    """Find the file key: each identity in turn tries every stanza.

    Raises:
        FormatError: a passphrase stanza is not alone, or a stanza addressed to
            one of the identities is malformed.
        NoIdentityMatchError: no identity could unwrap any stanza.
    """
    if len(stanzas) > 1 and any(s.type == SCRYPT_STANZA for s in stanzas):
        raise FormatError("a passphrase (scrypt) stanza must be the only one in the header")
    types = tuple(sorted({s.type for s in stanzas}))
    _check_items(identities, "unwrap", "identity")
    if not identities:
        raise NoIdentityMatchError("no identity was given to decrypt with", stanza_types=types)
    for identity in identities:
        for stanza in stanzas:
            key = identity.unwrap(stanza)
            if key is not None:
                return key
    if types == (SCRYPT_STANZA,) and any(
        SCRYPT_STANZA in getattr(i, "stanza_types", ()) for i in identities
    ):
        # A scrypt stanza fails to open only under another passphrase (age says the same).
        raise NoIdentityMatchError("incorrect passphrase", stanza_types=types)
    raise NoIdentityMatchError(
        stanza_types=types,
        hint=f"the file is encrypted to: {', '.join(types)}",
    )


def _check_items(items: object, method: str, kind: str) -> None:
    """Refuse, with a message that says what to do, what is no list of ``kind``.

    Once per file, never per chunk: what would otherwise fail deep inside with an
    ``AttributeError`` (a string, an identity given as a recipient, a lone object).

    Raises:
        TypeError: ``items`` is not a list, or holds something that is not a ``kind``.
    """
    parse = "parse_recipient" if kind == "recipient" else "parse_identity"
    if isinstance(items, str | bytes) or hasattr(items, method):
        raise TypeError(f"give a list of {kind} objects, not one {type(items).__name__}")
    if not isinstance(items, Sequence):
        raise TypeError(f"give a list of {kind} objects, not {type(items).__name__}")
    for item in items:
        if hasattr(item, method):
            continue
        if isinstance(item, str | bytes):
            raise TypeError(f"{kind} strings must be parsed first (sealbox.age.{parse})")
        if kind == "recipient" and hasattr(item, "recipient"):
            raise TypeError("an identity was given as a recipient: give identity.recipient()")
        raise TypeError(f"{type(item).__name__} is not an age {kind}")


def check_file_key(key: bytes) -> bytes:
    """A wrapped body that opened must hold exactly 16 bytes."""
    if len(key) != FILE_KEY_SIZE:  # pragma: no cover - bodies are length-checked first
        raise FormatError("the unwrapped file key is not 16 bytes")
    return key


def same_bytes(a: bytes, b: bytes) -> bool:
    """Constant-time equality (for tags derived from keys)."""
    import hmac  # only the SSH recipients need it: kept off the start-up path

    return hmac.compare_digest(a, b)
