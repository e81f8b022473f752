"""OAuth clients: ``disabled``, and a ``session_version`` their access tokens name.

Clients registered before this revision are enabled and at version 0, the version that
the tokens they were issued before it stand for (their ``sid`` names no version), so
those tokens keep working until the client's tokens are ended.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "oauth_clients",
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "oauth_clients",
        sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("session_version")
        batch.drop_column("disabled")
