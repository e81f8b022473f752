"""OAuth 2 clients for machines (client credentials, tls_client_auth), and refresh families
bound to a client certificate (RFC 8705 §4).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sealbox.accounts.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("previous_secret_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
        sa.Column("subject_dn", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("secret_rotated_at", UTCDateTime(), nullable=True),
    )
    op.add_column("refresh_tokens", sa.Column("cnf_x5t", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("cnf_x5t")
    op.drop_table("oauth_clients")
