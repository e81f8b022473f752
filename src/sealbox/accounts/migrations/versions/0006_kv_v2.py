"""The Vault-shaped KV version 2 engine: secrets (metadata) and their versions.

A secret is one path of one mount; each write adds a version whose value is sealed
under the master key (``value`` is NULL once the version is destroyed).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sealbox.accounts.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kv_secrets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("mount", sa.String(64), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("oldest_version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("max_versions", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cas_required", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("custom_metadata", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("mount", "path", name="uq_kv_secrets_mount_path"),
    )
    op.create_table(
        "kv_versions",
        sa.Column(
            "secret_id",
            sa.Integer(),
            sa.ForeignKey("kv_secrets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("destroyed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("value", sa.LargeBinary(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("kv_versions")
    op.drop_table("kv_secrets")
