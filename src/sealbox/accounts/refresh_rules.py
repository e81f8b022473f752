"""What a refresh family's stored token says about a refresh: whether it may be redeemed,
what binds it, and how long a token of it may live.

The rules :class:`~sealbox.accounts.store.Store` applies inside its transactions, decided
from the token's row alone (and the family's first issue time), so that a refusal costs the
same work whatever its reason:

- **Expiry.** A token is refused once its own expiry has passed, or its family's end: the
  family's absolute lifetime (``family_ttl`` seconds, ``AccountPolicy.refresh_family_ttl``)
  counted from its first token, the login's. Refreshes rotate the token, never the start,
  and no token is issued to expire after the family's end (:func:`refresh_expiry`): nor
  does the access token a refresh issues (:attr:`RefreshOutcome.ends_at`).
- **Certificate.** A family of no client (the public first-party client) issued over
  mutual TLS is bound to that certificate (RFC 8705 §4). A family issued to a registered
  client is bound to the client (§7.1), never to a certificate (:func:`family_binding`).
- **Client.** A family is redeemed only by the client it was issued to, or without one if
  it was issued without one (RFC 6749 §6, §10.4).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from sealbox.accounts.models import RefreshToken, User

__all__ = [
    "RefreshOutcome",
    "family_binding",
    "family_end",
    "family_start",
    "refresh_expiry",
    "refusal",
    "same_client",
]


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """What presenting a refresh token led to.

    ``status`` is ``ok`` (``user`` and ``token`` set), ``invalid`` (unknown,
    expired, past its family's end, or revoked), ``reused`` (already used: the family was
    revoked), ``wrong_client`` (a live family issued to another client, or to none:
    nothing changed) or ``invalid_scope`` (the refresh asked for more than the family
    holds; nothing changed).
    """

    status: str
    user: User | None = None
    token: str | None = None
    family_id: str | None = None
    #: The scope granted to the family (``None``: a family older than this record).
    scope: str | None = None
    #: The token had been used already, within the retry grace.
    retried: bool = False
    #: The client the family was issued to (``None``: none, the public client).
    client_id: str | None = None
    #: The account's name, for a ``wrong_client`` refusal (whose ``user`` is not read).
    owner: str | None = None
    #: When the family ends (``None``: no absolute lifetime): no token of it outlives that,
    #: the access token an ``ok`` refresh issues included.
    ends_at: datetime | None = None


def family_end(started: datetime | None, family_ttl: int | None) -> datetime | None:
    """When a family begun at ``started`` ends (``None``: no absolute lifetime)."""
    if started is None or family_ttl is None:
        return None
    return started + timedelta(seconds=family_ttl)


def family_start() -> Any:
    """The first issue time of the family of the token selected beside it: its login's.

    Every token of a family is kept (used or revoked) until its account is deleted, so the
    earliest one's ``created_at`` is when the family began: no column of its own needed."""
    first = aliased(RefreshToken)
    return (
        select(func.min(first.created_at))
        .where(first.family_id == RefreshToken.family_id)
        .scalar_subquery()
    )


def refresh_expiry(at: datetime, refresh_ttl: int, end: datetime | None) -> datetime:
    """The expiry of a token issued at ``at``: ``refresh_ttl`` on, but never past its
    family's ``end``."""
    expires = at + timedelta(seconds=refresh_ttl)
    return expires if end is None else min(expires, end)


def family_binding(thumbprint: str | None, client_id: str | None) -> str | None:
    """The certificate a family is bound to: none for a family issued to a client.

    RFC 8705 §7.1: a registered client authenticates at every refresh, which binds its
    family to it (and a certificate client's to its certificate's subject); bound to the
    certificate too, the family would end with the certificate's renewal. A public
    client's family has no authentication to lean on, and keeps its certificate (§4)."""
    return thumbprint if client_id is None else None


def same_client(issued_to: str | None, presented: str | None) -> bool:
    """Whether the client that authenticated (``None``: none) is the one a family was issued
    to (``None``: none). Client ids are no secrets; compared in constant time all the same."""
    if issued_to is None or presented is None:
        return issued_to is None and presented is None
    return hmac.compare_digest(
        issued_to.encode("utf-8", "surrogatepass"), presented.encode("utf-8", "surrogatepass")
    )


def refusal(
    row: RefreshToken | None,
    at: datetime,
    presented: str | None,
    client_id: str | None,
    owner: str | None,
    *,
    end: datetime | None = None,
) -> RefreshOutcome | None:
    """Why the token read cannot be redeemed, if it cannot: all of it decided before the
    account is read, so a refusal costs the same work whatever its reason. ``end``: its
    family's end (:func:`family_end`), which refuses it as its own expiry would."""
    if row is None or row.revoked_at is not None or row.expires_at <= at:
        return RefreshOutcome("invalid")
    if end is not None and end <= at:
        return RefreshOutcome("invalid")
    bound = family_binding(row.cnf_x5t, row.client_id)
    if bound is not None and not hmac.compare_digest(bound.encode(), (presented or "").encode()):
        return RefreshOutcome("invalid")
    if not same_client(row.client_id, client_id):
        return RefreshOutcome(
            "wrong_client", family_id=row.family_id, client_id=row.client_id, owner=owner
        )
    return None
