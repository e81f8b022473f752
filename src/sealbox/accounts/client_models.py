"""The registered clients' table and how a client is shown (never its secret); the store
that keeps them is :mod:`sealbox.accounts.clients`, which these names are importable from.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sealbox.accounts.models import Base, ScopeList, UTCDateTime, now
from sealbox.exceptions import SealboxError
from sealbox.secret import Secret

__all__ = ["ClientDisabledError", "ClientInfo", "ClientNotFoundError", "NewSecret", "OAuthClient"]


class ClientNotFoundError(SealboxError, LookupError):
    """No client has that name."""

    code = "client_not_found"


class ClientDisabledError(SealboxError):
    """The client's credentials are right, but it is disabled: it does not authenticate."""

    code = "client_disabled"


class OAuthClient(Base):
    """A registered client (the ``oauth_clients`` table, migration 0007)."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    scopes: Mapped[list[str]] = mapped_column(ScopeList, nullable=False, default=list)
    secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    previous_secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # RFC 8705 §2.1.2 tls_client_auth_subject_dn, as an RFC 4514 string.
    subject_dn: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Migration 0011: a disabled client does not authenticate; the session version rises
    # each time its tokens are ended, and its tokens name it (grants.client_family).
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    session_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """A client as it may be shown anywhere: never its secret nor the secret's hash."""

    client_id: str
    name: str
    scopes: tuple[str, ...]
    subject_dn: str | None
    has_secret: bool
    created_at: datetime
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None
    disabled: bool = False
    #: Its tokens name it; it rises each time they are ended (not shown: no one needs it).
    session_version: int = 0
    #: Set only on the client an ending gives its ``end`` the second time, once its
    #: change is committed: the families to end are those with a refresh token of row id
    #: this or lower (begun before the change); ``None``, every live one (not shown).
    sweep_through: int | None = None

    @property
    def auth_methods(self) -> tuple[str, ...]:
        """The RFC 8414 ``token_endpoint_auth_methods`` this client can use."""
        methods = ("client_secret_basic", "client_secret_post") if self.has_secret else ()
        return (*methods, "tls_client_auth") if self.subject_dn else methods

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (times as RFC 3339 UTC strings, ``None`` when there is none)."""
        return {
            "client_id": self.client_id,
            "name": self.name,
            "scopes": list(self.scopes),
            "token_endpoint_auth_methods": list(self.auth_methods),
            "tls_client_auth_subject_dn": self.subject_dn,
            "created": _rfc3339(self.created_at),
            "secret_rotated": _rfc3339(self.secret_rotated_at),
            "previous_secret_expires": _rfc3339(self.previous_secret_expires_at),
            "disabled": self.disabled,
        }

    @classmethod
    def of(cls, row: OAuthClient) -> ClientInfo:
        at = now()
        previous = row.previous_secret_expires_at
        return cls(
            client_id=row.client_id,
            name=row.name,
            scopes=tuple(row.scopes),
            subject_dn=row.subject_dn,
            has_secret=row.secret_hash is not None,
            created_at=row.created_at,
            secret_rotated_at=row.secret_rotated_at,
            previous_secret_expires_at=previous if previous is not None and previous > at else None,
            disabled=bool(row.disabled),
            session_version=row.session_version or 0,
        )


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A client and its new secret, shown once (the secret never in a ``repr``)."""

    client: ClientInfo
    secret: Secret[str] | None


def _rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
