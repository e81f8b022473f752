"""The keyring document: its JSON form, read and written, and the record of one key.

The document (``docs/formats.md``)::

    {"format": "sealbox-keyring/1", "primary": "<8 hex digits>",
     "keys": [{"id", "algorithm", "state", "created", "material"}, ...],
     "recipients": ["age1…", ...]}                        (age-encrypted keyrings only)

``state`` is written in the words of :class:`~sealbox.keysets.lifecycle.KeyState`:
``active`` (the primary key, the one key that seals), ``decrypt-only``, ``disabled``,
``destroyed``. Files written before that vocabulary say ``enabled`` for every key that
opens tokens; such a key reads as *active* if it is the primary and *decrypt-only*
otherwise, which is what it could do then. A destroyed key has ``"material": null``.

The document is only ever stored encrypted: sealed under a passphrase
(:data:`SEALED_FORMAT`, :mod:`sealbox.keysets.sealed`) or as an age file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sealbox.exceptions import FormatError, UnsupportedAlgorithmError
from sealbox.hazmat import kdf
from sealbox.hazmat.aead import ALGORITHMS
from sealbox.keysets.fields import MATERIAL_SIZE, FieldKey
from sealbox.keysets.lifecycle import KeyState
from sealbox.keysets.sealed import PassphraseSealer, b64d, b64e, format_time, parse_time
from sealbox.secret import Secret

if TYPE_CHECKING:
    from sealbox.age import Recipient

__all__ = [
    "FORMAT",
    "MAX_FILE_SIZE",
    "SEALED_FORMAT",
    "KeyEntry",
    "is_age_file",
    "new_entry",
    "parse_document",
    "passphrase_sealer",
    "recipient_text",
    "render_document",
    "settle_states",
]

FORMAT: Final = "sealbox-keyring/1"
SEALED_FORMAT: Final = "sealbox-keyring-sealed/1"
MAX_FILE_SIZE: Final = 16 * 1024 * 1024
_HEX: Final = frozenset("0123456789abcdef")
# A value read from inside a sealed document may be anything, damaged or chosen by whoever
# wrote it (long, a secret, terminal escapes): an error quotes it only when it is a name.
_NAME: Final = re.compile(r"[A-Za-z0-9._-]{1,40}")


@dataclass(slots=True, repr=False)
class KeyEntry:
    """One key of a keyring, material included (never shown: no repr)."""

    id: int
    algorithm: str
    state: KeyState
    created: datetime
    material: bytes | None
    field_key: FieldKey | None = None

    def working_key(self) -> FieldKey:
        """The key, ready to seal and open (built on first use)."""
        if self.field_key is None:
            assert self.material is not None
            self.field_key = FieldKey(self.id, self.algorithm, self.material)
        return self.field_key


def new_entry(algorithm: str, taken: Iterable[int], now: datetime | None) -> KeyEntry:
    """A fresh active key with a random id not in ``taken``.

    Raises:
        UnsupportedAlgorithmError: an unknown cipher.
    """
    if algorithm not in ALGORITHMS:
        names = ", ".join(sorted(ALGORITHMS))
        raise _unknown_algorithm(algorithm, suffix=f" (supported: {names})")
    used = set(taken)
    key_id = 0
    while key_id == 0 or key_id in used:
        key_id = secrets.randbits(32)
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return KeyEntry(key_id, algorithm, KeyState.ACTIVE, created, os.urandom(MATERIAL_SIZE))


def settle_states(entries: Mapping[int, KeyEntry], primary_id: int) -> None:
    """Make the primary key the one active key: any other active key becomes decrypt-only.

    In a keyring only the primary key seals, so an active key that is not primary
    (an ``enabled`` key of an older file, the other side's primary after a merge)
    can only open tokens: that is *decrypt-only*.
    """
    for entry in entries.values():
        if entry.id != primary_id and entry.state is KeyState.ACTIVE:
            entry.state = KeyState.DECRYPT_ONLY


def render_document(
    primary_id: int, entries: Iterable[KeyEntry], recipients: tuple[str, ...]
) -> bytes:
    """The keyring document, **with the key material in clear**."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "primary": f"{primary_id:08x}",
        "keys": [
            {
                "id": f"{e.id:08x}",
                "algorithm": e.algorithm,
                "state": e.state.value,
                "created": format_time(e.created),
                "material": None if e.material is None else b64e(e.material),
            }
            for e in entries
        ],
    }
    if recipients:
        doc["recipients"] = list(recipients)
    return json.dumps(doc, indent=2).encode() + b"\n"


def parse_document(data: bytes) -> tuple[list[KeyEntry], int, tuple[str, ...]]:
    """Read a keyring document: its keys, the primary key's id and the recipients.

    The states are as the file says them (older spellings read as their new words);
    :func:`settle_states` makes them a keyring's.

    Raises:
        FormatError: the document is not a valid keyring (the message says what is
            wrong, never with key material).
        UnsupportedAlgorithmError: a key of an unknown cipher.
    """
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):  # not UTF-8 or JSON, an int too long, deep nesting
        raise FormatError("the keyring is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FormatError(f"not a keyring: 'format' must be {FORMAT!r}")
    keys = doc.get("keys")
    if not isinstance(keys, list) or not keys:
        raise FormatError("the keyring has no keys")
    entries = [_parse_entry(k, i) for i, k in enumerate(keys)]
    if len({e.id for e in entries}) != len(entries):
        raise FormatError("the keyring holds two keys with the same id")
    primary = _parse_id(doc.get("primary"), "primary")
    recipients = doc.get("recipients", [])
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise FormatError("'recipients' must be a list of strings")
    return entries, primary, tuple(recipients)


def _parse_entry(obj: object, index: int) -> KeyEntry:
    where = f"keys[{index}]"
    if not isinstance(obj, dict):
        raise FormatError(f"{where} must be an object")
    key_id = _parse_id(obj.get("id"), f"{where}.id")
    algorithm = obj.get("algorithm")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise _unknown_algorithm(algorithm, prefix=f"{where}: ")
    state = _parse_state(obj.get("state"), f"{where}.state")
    created = parse_time(obj.get("created"), f"{where}.created")
    raw = obj.get("material")
    if state is KeyState.DESTROYED:
        if raw is not None:
            raise FormatError(f"{where} is destroyed but still holds material")
        material = None
    else:
        material = b64d(raw, f"{where}.material")
        if len(material) != MATERIAL_SIZE:
            raise FormatError(f"{where}.material must be {MATERIAL_SIZE} bytes")
    return KeyEntry(key_id, str(algorithm), state, created, material)


def _name(value: object) -> str | None:
    """``value`` if it may be quoted in an error (a short printable name), else None."""
    return value if isinstance(value, str) and _NAME.fullmatch(value) else None


def _unknown_algorithm(
    value: object, *, prefix: str = "", suffix: str = ""
) -> UnsupportedAlgorithmError:
    name = _name(value)
    if name is None:
        return UnsupportedAlgorithmError(f"{prefix}an unknown algorithm{suffix}")
    return UnsupportedAlgorithmError(
        f"{prefix}unknown algorithm {name!r}{suffix}", facts={"algorithm": name}
    )


def _parse_state(value: object, where: str) -> KeyState:
    name = _name(value)
    if name is None:
        words = ", ".join(s.value for s in KeyState)
        raise FormatError(f"{where}: an unknown key state (expected {words})")
    return KeyState.parse(name, where)


def _parse_id(value: object, where: str) -> int:
    # int(…, 16) alone takes a sign, blanks, "0x" and "_": "-0000001" would be id -1.
    if not isinstance(value, str) or len(value) != 8 or not _HEX.issuperset(value.lower()):
        raise FormatError(f"{where} must be 8 hex digits")
    return int(value, 16)


def is_age_file(data: bytes) -> bool:
    """Whether ``data`` is an age file (binary or armored) rather than sealed JSON."""
    start = data[:64].lstrip()
    return start.startswith((b"age-encryption.org/", b"-----BEGIN AGE ENCRYPTED FILE-----"))


def recipient_text(recipient: Recipient) -> str:
    """The public form of an age recipient to record in the keyring ('' if it has none)."""
    text = str(recipient)
    # Only public keys are recorded; a passphrase recipient has no public form.
    return text if text.startswith(("age1", "ssh-")) else ""


def passphrase_sealer(
    passphrase: str | bytes | Secret[Any], **kw: kdf.Argon2idParams
) -> PassphraseSealer:
    """The sealer of a passphrase-protected keyring file."""
    return PassphraseSealer(passphrase, format=SEALED_FORMAT, what="keyring", **kw)
