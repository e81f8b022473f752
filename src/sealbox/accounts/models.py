"""The accounts' tables: users, refresh tokens, revoked access tokens (SQLAlchemy 2 models).

The declarative :class:`Base` and the :class:`UTCDateTime` column type are shared with the
service's other tables; the schema itself is created and upgraded by the service's Alembic
migrations (:func:`sealbox.accounts.database.migrate`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sealbox.accounts.scopes import SCOPE_TOKEN
from sealbox.secret import redact

__all__ = [
    "Base",
    "HeldScopes",
    "RefreshToken",
    "RevokedToken",
    "ScopeList",
    "UTCDateTime",
    "User",
    "now",
    "quoted",
    "storable_text",
]


def now() -> datetime:
    """The current UTC time, timezone-aware."""
    return datetime.now(UTC)


def storable_text(value: str) -> bool:
    """Whether every backend's text column can hold ``value``, and so a query can name it.

    Not a lone surrogate (bytes that were not UTF-8: no driver encodes one), nor a NUL
    (PostgreSQL's text refuses it, SQLite keeps it): a name holding either names nothing.
    """
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def quoted(value: str, limit: int) -> str:
    """``value`` quoted for a message, as ``repr`` does, cut after ``limit`` characters
    (``…`` marks the cut): a name or scope of 100 kB given by mistake is not printed back
    whole. ``limit`` is above the longest valid value, which is quoted whole.

    A token or key given by mistake (pasted for a name) is hidden first: cut, it would no
    longer look like one, and its start (a JWT's header and claims) would be shown."""
    value = redact(value)
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}…"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class HeldScopes(list[str]):
    """The scopes a row holds, as read: each a scope under RFC 6749 §3.3's grammar as
    sealbox checks it (:data:`~sealbox.accounts.scopes.SCOPE_TOKEN`), once.

    ``left_out`` counts the stored values that are not (a row written directly, or by an
    older version: a space inside, empty, too long, not a string, or the whole value no
    list). No token can carry one (a space would even split it into other scopes), and
    no grant or revoke names one: the row is read as holding its valid scopes only, and
    the next change of its scopes writes back those alone.
    """

    left_out: int = 0


class ScopeList(TypeDecorator[list[str]]):
    """A JSON list of scopes, read back as :class:`HeldScopes` (never failing on a value
    written outside sealbox: such a row would otherwise answer every login with an error)."""

    impl = JSON
    cache_ok = True

    def process_result_value(self, value: object, dialect: Dialect) -> HeldScopes:
        if not isinstance(value, list):
            held = HeldScopes()
            held.left_out = 0 if value is None or value == [] else 1
            return held
        held = HeldScopes(
            dict.fromkeys(v for v in value if isinstance(v, str) and SCOPE_TOKEN.fullmatch(v))
        )
        held.left_out = sum(not (isinstance(v, str) and SCOPE_TOKEN.fullmatch(v)) for v in value)
        return held


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class User(Base):
    """An account.

    ``username`` is stored in its RFC 8265 canonical form (see
    :mod:`sealbox.accounts.usernames`); ``username_skeleton`` is its UTS #39 skeleton,
    unique so that look-alike names cannot be registered. Accounts older than these
    rules whose names collide keep their names, and only one of each look-alike group
    holds the skeleton (the others have ``None``).
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(150), unique=True, nullable=False)
    username_skeleton: Mapped[str | None] = mapped_column(String(1024), unique=True, nullable=True)
    password_hash: Mapped[str] = mapped_column(String(512), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(ScopeList, nullable=False, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    # Carried in access tokens as "sv"; raised by a password change, which refuses
    # every access token issued before it.
    session_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # A disabled account cannot log in or refresh; disabling also ends its sessions.
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RefreshToken(Base):
    """One refresh token, stored as the SHA-256 of its value, in a rotation family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True, nullable=False)
    family_id: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The scope granted at login, space-separated, carried to every token of the family
    # (RFC 6749 §6: a refresh never widens it). None: issued before it was recorded.
    scope: Mapped[str | None] = mapped_column(Text, nullable=True)
    # RFC 8705 §4: the x5t#S256 of the client certificate the family was issued over
    # (mutual TLS); the family is refreshed only over a connection with that certificate.
    cnf_x5t: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # RFC 6749 §6, §10.4: the registered client the family was issued to (the one that
    # authenticated at the token endpoint); the family is refreshed only by that client.
    # None: issued without client authentication (the public first-party client), and
    # every family older than migration 0009.
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_refresh_tokens_family", "family_id"),
        Index("ix_refresh_tokens_user", "user_id"),
        Index("ix_refresh_tokens_client", "client_id"),
    )


class RevokedToken(Base):
    """An access token's ``jti`` refused until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
