"""Key types as Vault names them, on the Vault-shaped transit routes.

sealbox's ``aes256-gcm`` is Vault's ``aes256-gcm96``; the other types sealbox has are
spelt alike. A type named on these routes is read in Vault's words only, and refused in
them: ``unknown key type <name>`` (Vault's message), followed by the choices as Vault's
names, never sealbox's own spellings; a type Vault has and sealbox does not is said to
be unsupported rather than unknown.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from sealbox.service.vault.errors import VaultError
from sealbox.transit.registry import KEY_TYPES

__all__ = ["FROM_VAULT_TYPES", "VAULT_TYPES", "sealbox_type", "vault_type"]

VAULT_TYPES: Final[Mapping[str, str]] = MappingProxyType({"aes256-gcm": "aes256-gcm96"})
"""sealbox's type names that Vault spells otherwise (the rest are the same word)."""
FROM_VAULT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {VAULT_TYPES.get(ours, ours): ours for ours in KEY_TYPES}
)
"""Vault's name of each type sealbox has, to sealbox's."""
# Vault's types that sealbox does not have (its documentation's list, managed keys and
# the CMAC keys of its Enterprise edition included).
_LACKING: Final = frozenset(
    {
        "aes128-gcm96",
        "ecdsa-p384",
        "ecdsa-p521",
        "rsa-2048",
        "rsa-4096",
        "managed_key",
        "aes128-cmac",
        "aes192-cmac",
        "aes256-cmac",
    }
)
_CHOICES: Final = ", ".join(FROM_VAULT_TYPES)
_SHOWN: Final = 64  # the most of an unknown name an answer repeats


def vault_type(name: str) -> str:
    """A key type as Vault names it."""
    return VAULT_TYPES.get(name, name)


def sealbox_type(named: str | None) -> str:
    """sealbox's name of Vault's key type (Vault's default, ``aes256-gcm96``, for ``None``).

    Raises:
        VaultError: 400 for a name that is not Vault's name of a type sealbox has.
    """
    wanted = named or "aes256-gcm96"
    ours = FROM_VAULT_TYPES.get(wanted)
    if ours is not None:
        return ours
    shown = wanted if len(wanted) <= _SHOWN else f"{wanted[:_SHOWN]}…"
    if wanted in _LACKING:
        raise VaultError(400, f"key type {shown} is not supported here: choose one of {_CHOICES}")
    raise VaultError(400, f"unknown key type {shown}: choose one of {_CHOICES}")
