"""Guarded grayscale releases: the guard's thresholds, its last verdict and when it was last evaluated

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("guard", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("guard_state", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("guard_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("guard_checked_at")
        batch.drop_column("guard_state")
        batch.drop_column("guard")
