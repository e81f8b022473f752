"""The life of a key, in one vocabulary shared by keyrings, JWT keysets and transit keys.

A key moves one way through four states::

    active  ->  decrypt-only  ->  disabled  ->  destroyed
       ^             |               |
       +-------------+---------------+   (enable: back to active, while material is kept)

- **active**: the key does everything its kind allows; the set's primary key (the
  newest, for transit keys) is the one new data is sealed or signed with;
- **decrypt-only**: the key still opens (or verifies) what it made, and never makes
  anything new;
- **disabled**: the key is kept but refuses every use until it is enabled again;
- **destroyed**: the material is erased for good; the id stays so it is never reused.

In a keyring and in a JWT signing keyset the primary key is the one active key: the
others that still open or verify are decrypt-only.

Files written before this vocabulary keep their words: a keyring's ``enabled`` reads as
*active* (and a keyring or keyset then makes every active key but the primary
decrypt-only, which is all such a key could do), a JWT keyset's ``retired`` (material
erased) as *destroyed*. :meth:`KeyState.parse` accepts them; everything sealbox writes
and reports uses the four words above.

May import: nothing but the standard library and :mod:`sealbox.exceptions`.
"""

from __future__ import annotations

import enum
import re

from sealbox.exceptions import FormatError

__all__ = ["OLD_SPELLINGS", "KeyState"]


# A state named in an error: a short printable word, nothing else of what was read.
_SHOWN = re.compile(r"[A-Za-z0-9._-]{1,40}")


class KeyState(enum.StrEnum):
    """The state of a key: what it may still be used for (in order of its life)."""

    ACTIVE = "active"
    """Seals or signs (when it is the primary key) and opens or verifies."""
    DECRYPT_ONLY = "decrypt-only"
    """Opens or verifies what it made; never seals or signs anything new."""
    DISABLED = "disabled"
    """Kept, but refuses every use until it is enabled again."""
    DESTROYED = "destroyed"
    """The material is erased; only the id remains, so it is never reused."""

    @property
    def usable(self) -> bool:
        """Whether the key can open or verify anything (active or decrypt-only)."""
        return self in (KeyState.ACTIVE, KeyState.DECRYPT_ONLY)

    @classmethod
    def parse(cls, text: str, where: str = "state") -> KeyState:
        """Read a state from a file or a request, accepting the older spellings.

        Raises:
            FormatError: ``text`` names no state.
        """
        try:
            return cls(OLD_SPELLINGS.get(text, text))
        except (ValueError, TypeError):
            words = ", ".join(s.value for s in cls)
            # Read from inside a file (a JWT keyset, sealed or not) or a request: quoted
            # only when it is a short name, never a long or escape-laden value.
            shown = f" {text!r}" if isinstance(text, str) and _SHOWN.fullmatch(text) else ""
            raise FormatError(f"{where}: unknown key state{shown} (expected {words})") from None


OLD_SPELLINGS: dict[str, str] = {
    "enabled": KeyState.ACTIVE.value,  # keyring files
    "retired": KeyState.DESTROYED.value,  # JWT keyset files
    "decrypt_only": KeyState.DECRYPT_ONLY.value,
}
"""Words earlier files store, mapped to the state they mean."""
