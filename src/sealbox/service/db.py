"""The service's database: the transit key tables beside the accounts' ones.

The engine, sessions and migrations are the library's (:mod:`sealbox.accounts.database`,
re-exported here); the schema is owned by its Alembic migrations.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sealbox.accounts.database import (
    MIGRATIONS,
    current_revision,
    make_engine,
    migrate,
    sessionmaker,
)
from sealbox.accounts.models import Base, RefreshToken, RevokedToken, User, UTCDateTime, now

__all__ = [
    "MIGRATIONS",
    "Base",
    "RefreshToken",
    "RevokedToken",
    "TransitKeyRecord",
    "TransitKeyVersionRecord",
    "User",
    "current_revision",
    "make_engine",
    "migrate",
    "now",
    "sessionmaker",
]


class TransitKeyRecord(Base):
    """A named transit key: its type and configuration (the versions are rows of their own)."""

    __tablename__ = "transit_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    min_decryption_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    min_encryption_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deletion_allowed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    exportable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)


class TransitKeyVersionRecord(Base):
    """One version of a transit key: its material sealed under the master key.

    ``material`` is ``0x01 || nonce (12) || AES-256-GCM ciphertext || tag (16)``;
    the associated data binds it to the key's name, type and version (see
    ``sealbox.service.transit_keys``).
    """

    __tablename__ = "transit_key_versions"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("transit_keys.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    material: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
