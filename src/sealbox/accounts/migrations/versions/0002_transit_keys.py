"""Transit keys and their versions (encryption as a service).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sealbox.accounts.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transit_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("min_decryption_version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("min_encryption_version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deletion_allowed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("exportable", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "transit_key_versions",
        sa.Column(
            "key_id",
            sa.Integer(),
            sa.ForeignKey("transit_keys.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("material", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("transit_key_versions")
    op.drop_table("transit_keys")
