"""The TOTP second factor: one sealed secret per account, and its recovery codes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sealbox.accounts.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_totp",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False, server_default="-1"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "totp_recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_index(
        "ix_totp_recovery_codes_user_code",
        "totp_recovery_codes",
        ["user_id", "code_hash"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_totp_recovery_codes_user_code", table_name="totp_recovery_codes")
    op.drop_table("totp_recovery_codes")
    op.drop_table("user_totp")
