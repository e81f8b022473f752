"""Key material sealed for storage: one version's material under a master key.

``0x01 || AES-256-GCM(master key, material)`` (``nonce || ciphertext || tag``); the
associated data is ``"sealbox-transit-key/1" 0x00 name 0x00 type 0x00 version``
(decimal), so a row copied to another key, type or version does not open. The
service stores every version this way (``docs/formats.md`` has a vector).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Final

from sealbox.exceptions import DecryptionError
from sealbox.hazmat.aead import AES256GCM

__all__ = ["MATERIAL_LABEL", "MATERIAL_VERSION", "UNOPENED", "open_material", "seal_material"]

MATERIAL_VERSION: Final = b"\x01"
MATERIAL_LABEL: Final = b"sealbox-transit-key/1"
UNOPENED: Final = "sealed_material_unopened"
"""The code of the :class:`~sealbox.exceptions.DecryptionError` :func:`open_material` raises.

Not ``decryption_failed``: a row that does not open is the operator's problem (a wrong
master key, an altered database), not a refusal of the caller's input.
"""


def _material_ad(name: str, key_type: str, version: int) -> bytes:
    return b"\x00".join((MATERIAL_LABEL, name.encode(), key_type.encode(), str(version).encode()))


def seal_material(
    master_key: bytes, name: str, key_type: str, version: int, material: bytes
) -> bytes:
    """Seal one version's material under ``master_key`` (32 bytes)."""
    sealed = AES256GCM(master_key).encrypt(material, _material_ad(name, key_type, version))
    return MATERIAL_VERSION + sealed


def open_material(
    master_key: bytes, name: str, key_type: str, version: int, sealed: bytes
) -> bytes:
    """Open what :func:`seal_material` sealed.

    Raises:
        DecryptionError: (code ``sealed_material_unopened``) a wrong master key, or the
            sealed material was altered or moved to another key, type or version.
    """
    if sealed[:1] != MATERIAL_VERSION:
        raise DecryptionError(
            f"transit key {name!r} version {version} is not sealed material", code=UNOPENED
        )
    try:
        return AES256GCM(master_key).decrypt(sealed[1:], _material_ad(name, key_type, version))
    except DecryptionError:
        raise DecryptionError(
            f"cannot open transit key {name!r} version {version}: wrong master key, "
            "or the database row was altered",
            code=UNOPENED,
        ) from None
