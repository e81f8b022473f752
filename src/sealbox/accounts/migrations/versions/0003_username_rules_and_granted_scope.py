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

import sqlalchemy as sa
from alembic import op

from sealbox.accounts.username_upgrade import upgrade_usernames

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.String(1024), nullable=True))
        batch.create_unique_constraint("uq_users_username_skeleton", ["username_skeleton"])
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.Text(), nullable=True))
    upgrade_usernames(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("scope")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_username_skeleton", type_="unique")
        batch.drop_column("username_skeleton")
