"""KV version 2: a secret's ``delete_version_after``, in seconds (0: never).

Secrets written before this revision get 0: their versions keep no deletion time, which
is how every version was written before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "kv_secrets",
        sa.Column("delete_version_after", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("kv_secrets") as batch:
        batch.drop_column("delete_version_after")
