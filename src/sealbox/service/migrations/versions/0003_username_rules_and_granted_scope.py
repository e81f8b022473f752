"""Usernames per RFC 8265 with their UTS #39 skeletons; the scope granted to a refresh family.

Existing names are brought to their canonical form where that is unambiguous. Names
the rules refuse, and names that collide with another account's under the rules
(``Alice`` beside ``alice``), are left exactly as they are and reported as a
warning: those accounts keep logging in with the names they have.

Refresh tokens issued before this revision have no recorded scope; a refresh of one
grants the account's scopes, as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import logging
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from sealbox.service.usernames import UsernameError, canonical_username, skeleton

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("sealbox.service")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.String(1024), nullable=True))
        batch.create_unique_constraint("uq_users_username_skeleton", ["username_skeleton"])
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.Text(), nullable=True))
    _canonicalize(op.get_bind())


def _canonicalize(conn: sa.Connection) -> None:
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("username", sa.String),
        sa.column("username_skeleton", sa.String),
    )
    rows = conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    by_canonical: dict[str, list[tuple[int, str]]] = defaultdict(list)
    refused: list[str] = []
    for uid, name in rows:
        try:
            by_canonical[canonical_username(name)].append((uid, name))
        except UsernameError:
            refused.append(name)
    by_skeleton: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for canonical, group in by_canonical.items():
        holders = group
        if len(holders) > 1:
            log.warning(
                "usernames that are one name under RFC 8265, kept as they are: %s",
                ", ".join(repr(name) for _, name in holders),
            )
        else:
            uid, name = holders[0]
            if name != canonical:
                conn.execute(users.update().where(users.c.id == uid).values(username=canonical))
            holders = [(uid, canonical)]
        by_skeleton[skeleton(canonical)].extend(holders)
    for shape, holders in by_skeleton.items():
        # The first account of a look-alike group holds the skeleton; the others keep
        # working, and new look-alikes of any of them are refused through it.
        conn.execute(
            users.update().where(users.c.id == holders[0][0]).values(username_skeleton=shape)
        )
        names = [name for _, name in holders]
        if len({canonical_username(n) for n in names}) > 1:
            log.warning(
                "usernames that look alike (UTS #39), kept as they are: %s",
                ", ".join(repr(n) for n in names),
            )
    if refused:
        log.warning(
            "usernames the RFC 8265 rules refuse, kept as they are: %s",
            ", ".join(repr(name) for name in refused),
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("scope")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_username_skeleton", type_="unique")
        batch.drop_column("username_skeleton")
