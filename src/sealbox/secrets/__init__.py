"""Secrets from the environment, ``.env`` files, sealed secrets files and Vault.

Every source returns :class:`~sealbox.secret.Secret` values; a
:class:`SecretsChain` asks its sources in order. Sources with optional
dependencies (python-dotenv, hvac) import them only when used.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib

from sealbox.secrets.base import SecretSource
from sealbox.secrets.chain import SecretsChain
from sealbox.secrets.env import EnvSource

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealbox.secrets.dotenv import DotenvSource
    from sealbox.secrets.vault import VaultKV2Source

__all__ = ["DotenvSource", "EnvSource", "SecretSource", "SecretsChain", "VaultKV2Source"]

_LAZY = {
    "DotenvSource": "sealbox.secrets.dotenv",
    "VaultKV2Source": "sealbox.secrets.vault",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sealbox.secrets' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
