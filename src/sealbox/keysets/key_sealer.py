"""Small documents sealed under a random 256-bit key: AES-256-GCM, the format name as
associated data.

The counterpart of :class:`~sealbox.keysets.sealed.PassphraseSealer` (a
:class:`~sealbox.keysets.sealed.Sealer` too) for a key that is already random, such as
the service's master key: no key derivation. A sealed document is JSON::

    {"format": "<what>/1", "cipher": "aes-256-gcm",
     "data": "<base64url of nonce | ciphertext | tag>"}

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import json

from sealbox.exceptions import DecryptionError, FormatError
from sealbox.hazmat.aead import AES256GCM

__all__ = ["KeySealer"]


class KeySealer:
    """Seal small documents with a 32-byte random key.

    Args:
        key: the key (32 random bytes; never a passphrase).
        format: the document's format name, bound to the ciphertext.
        what: how the error of a document that does not open names it.
        key_name: how that error names the key (``"master key"``).
    """

    __slots__ = ("_cipher", "_format", "_key_name", "_what")

    def __init__(
        self,
        key: bytes,
        format: str,  # noqa: A002 - the document's member
        *,
        what: str = "document",
        key_name: str = "key",
    ) -> None:
        self._cipher = AES256GCM(key)
        self._format = format
        self._what = what
        self._key_name = key_name

    def __repr__(self) -> str:
        return f"KeySealer(format={self._format!r})"

    def seal(self, plaintext: bytes) -> bytes:
        """The sealed JSON document of ``plaintext``."""
        body = self._cipher.encrypt(plaintext, self._format.encode())
        doc = {"format": self._format, "cipher": "aes-256-gcm", "data": _b64e(body)}
        return json.dumps(doc, indent=2).encode() + b"\n"

    def open(self, data: bytes) -> bytes:
        """The plaintext of a document :meth:`seal` made.

        Raises:
            FormatError: ``data`` is not a sealed document of this format.
            DecryptionError: it does not open under this key (or was altered).
        """
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):  # not UTF-8 or JSON, an int too long, deep nesting
            raise FormatError("not a sealed service document (not JSON)") from None
        if not isinstance(doc, dict) or doc.get("format") != self._format:
            raise FormatError(f"not a sealed document of format {self._format!r}")
        try:
            body = base64.urlsafe_b64decode(doc["data"] + "=" * (-len(doc["data"]) % 4))
        except (KeyError, TypeError, ValueError):  # binascii.Error; non-ASCII text
            raise FormatError("the sealed document has no valid data") from None
        try:
            return self._cipher.decrypt(body, self._format.encode())
        except DecryptionError:
            raise DecryptionError(
                f"cannot open the {self._what}: wrong {self._key_name}, or the file was altered"
            ) from None


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
