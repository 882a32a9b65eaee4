"""Users recently seen by the update check, per app (for the grayscale rule preview)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_users",
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("user_key", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=128), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_pk"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_pk", "user_key"),
    )
    op.create_index("ix_seen_users_app_seen", "seen_users", ["app_pk", "seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_seen_users_app_seen", table_name="seen_users")
    op.drop_table("seen_users")
