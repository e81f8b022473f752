"""Bringing stored accounts to the current username rules, for the database migrations.

:func:`upgrade_usernames` stores each account's name in its RFC 8265 canonical form
where that is unambiguous, recomputes every UTS #39 skeleton with the confusables
mapping sealbox ships, and reports what it had to leave alone:

- names that are one name under RFC 8265 (``Alice`` beside ``alice``): kept exactly as
  they are, each account still logging in with its own;
- names that look alike (same skeleton): kept; the first account of the group holds
  the skeleton, so new look-alikes of any of them are refused;
- names the rules refuse (``with space``): kept, with no skeleton.

It is idempotent: a migration runs it again whenever the rules or the confusables
mapping change. A collision is logged once per process, however many migrations of
one upgrade run it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from collections import defaultdict

import sqlalchemy as sa

from sealbox.accounts.usernames import UsernameError, canonical_username, skeleton

__all__ = ["upgrade_usernames"]

log = logging.getLogger("sealbox.service")
_logged: set[str] = set()

_USERS = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("username_skeleton", sa.String),
)


def upgrade_usernames(conn: sa.Connection) -> list[str]:
    """Canonicalise names and recompute skeletons; log and return the collisions found."""
    users = _USERS
    rows = conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    by_canonical: dict[str, list[tuple[int, str]]] = defaultdict(list)
    refused: list[str] = []
    for uid, name in rows:
        try:
            by_canonical[canonical_username(name)].append((uid, name))
        except UsernameError:
            refused.append(name)
    report: list[str] = []
    # Cleared first: under a new mapping one account may take a skeleton another held.
    conn.execute(users.update().values(username_skeleton=None))
    by_skeleton: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for canonical, group in by_canonical.items():
        if len(group) > 1:
            report.append(
                "usernames that are one name under RFC 8265, kept as they are: "
                + ", ".join(repr(name) for _, name in group)
            )
            by_skeleton[skeleton(canonical)].extend(group)
            continue
        uid, name = group[0]
        if name != canonical:
            conn.execute(users.update().where(users.c.id == uid).values(username=canonical))
        by_skeleton[skeleton(canonical)].append((uid, canonical))
    for shape, holders in by_skeleton.items():
        conn.execute(
            users.update().where(users.c.id == holders[0][0]).values(username_skeleton=shape)
        )
        names = [name for _, name in holders]
        if len({canonical_username(n) for n in names}) > 1:
            report.append(
                "usernames that look alike (UTS #39), kept as they are: "
                + ", ".join(repr(n) for n in names)
            )
    if refused:
        report.append(
            "usernames the RFC 8265 rules refuse, kept as they are: "
            + ", ".join(repr(name) for name in refused)
        )
    for line in report:
        if line not in _logged:
            _logged.add(line)
            log.warning("%s", line)
    return report
