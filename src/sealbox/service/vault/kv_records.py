"""The KV version 2 engine's tables and refusals: one row per secret (its metadata), one
per version (its value sealed, NULL once destroyed), and the errors the engine raises.

:mod:`sealbox.service.vault.kv_store` works on them and re-exports every name here.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sealbox.accounts.models import UTCDateTime
from sealbox.service.db import Base, now

__all__ = [
    "DEFAULT_MAX_VERSIONS",
    "MAX_PATH",
    "MAX_SECRET_VERSION",
    "CheckAndSetError",
    "InvalidPathError",
    "InvalidValueError",
    "KVError",
    "KVSecretRecord",
    "KVVersionRecord",
    "SecretNotFoundError",
    "WriteConflictError",
    "check_path",
]

DEFAULT_MAX_VERSIONS: Final = 10
"""Versions kept when a secret's ``max_versions`` is 0 (Vault's default)."""
MAX_SECRET_VERSION: Final = 2**31 - 1
"""The largest version number a secret can have (its column is a 32-bit integer)."""
MAX_PATH: Final = 512
"""The longest path a secret can have, in characters."""


class KVError(Exception):
    """A refusal of the KV engine: what the caller asked for breaks a rule."""


class InvalidPathError(KVError):
    """The path is not one a secret can have."""


class CheckAndSetError(KVError):
    """A write's check-and-set failed, or the secret requires one and it was missing."""


class WriteConflictError(KVError):
    """Other writers kept winning: the write may be retried."""


class InvalidValueError(KVError):
    """A secret's data that could be written but never read back as JSON."""


class SecretNotFoundError(KVError):
    """Nothing at that path, or no such version.

    Attributes:
        metadata: a deleted or destroyed version's metadata (Vault answers it with the
            404), else ``None``.
    """

    def __init__(self, message: str = "not found", metadata: dict[str, Any] | None = None):
        super().__init__(message)
        self.metadata = metadata


class KVSecretRecord(Base):
    """One secret's metadata (its versions are rows of their own)."""

    __tablename__ = "kv_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mount: Mapped[str] = mapped_column(String(64), nullable=False)
    path: Mapped[str] = mapped_column(String(MAX_PATH), nullable=False)
    current_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    oldest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_versions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cas_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Seconds from a version's writing to its deletion (0: never); Go's durations reach
    # past a 32-bit integer.
    delete_version_after: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    custom_metadata: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)

    __table_args__ = (UniqueConstraint("mount", "path", name="uq_kv_secrets_mount_path"),)


class KVVersionRecord(Base):
    """One version of a secret: its value sealed under the master key (NULL once destroyed)."""

    __tablename__ = "kv_versions"

    secret_id: Mapped[int] = mapped_column(
        ForeignKey("kv_secrets.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    destroyed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    value: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


def check_path(path: str) -> str:
    """A secret's path without its outer slashes.

    Raises:
        InvalidPathError: an empty path, an empty, ``.`` or ``..`` segment, a control
            character, or more than 512 characters.
    """
    path = path.strip("/")
    if not path:
        raise InvalidPathError("a secret path is required")
    if len(path) > MAX_PATH:
        raise InvalidPathError(f"a secret path has at most {MAX_PATH} characters")
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise InvalidPathError("a secret path may not hold control characters")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise InvalidPathError("a secret path may not have empty, '.' or '..' segments")
    return path
