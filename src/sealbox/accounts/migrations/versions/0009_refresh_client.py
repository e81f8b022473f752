"""Refresh families bound to the client they were issued to (RFC 6749 §6, §10.4).

Families issued before this revision have no recorded client: they count as issued
without client authentication (to the public first-party client), which is how every
refresh token was redeemed before, so they keep working as they did.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("refresh_tokens", sa.Column("client_id", sa.String(64), nullable=True))
    op.create_index("ix_refresh_tokens_client", "refresh_tokens", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_client", table_name="refresh_tokens")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("client_id")
