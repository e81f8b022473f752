"""Secrets from the environment, ``.env`` files, sealed secrets files and Vault.

Every source returns :class:`~sealbox.secret.Secret` values; a
:class:`SecretsChain` asks its sources in order. Sources with optional
dependencies (python-dotenv, hvac) import them only when used.

May import: :mod:`sealbox._util`, :mod:`sealbox.age` (sealed secrets files) and
third-party ``dotenv`` (python-dotenv), ``hvac``, and ``requests`` and ``urllib3`` (hvac's
transport).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from sealbox._util.lazy import lazy_names
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

# Hidden from type checkers: a module ``__getattr__`` would type every misspelt name
# as Any; they see the names above (TYPE_CHECKING) and report any other.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
