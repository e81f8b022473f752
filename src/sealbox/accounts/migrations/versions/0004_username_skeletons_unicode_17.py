"""Username skeletons recomputed with Unicode 17.0's confusables mapping.

Skeletons stored under an older mapping would let a new look-alike of a character the
old mapping did not know through. Names and collisions are handled as in 0003.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from sealbox.accounts.username_upgrade import upgrade_usernames

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_usernames(op.get_bind())


def downgrade() -> None:
    # The older mapping's skeletons are not kept anywhere: the newer ones stay.
    return None
