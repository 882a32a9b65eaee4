"""Release generation and change log: replicas keep release decisions in memory and reload on change

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    gen = op.create_table(
        "release_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(gen, [{"id": 1, "value": 0}])
    op.create_table(
        "release_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("app_pk", sa.Integer(), nullable=True),
        sa.Column("host_pk", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_release_changes_generation", "release_changes", ["generation"])


def downgrade() -> None:
    op.drop_index("ix_release_changes_generation", table_name="release_changes")
    op.drop_table("release_changes")
    op.drop_table("release_generation")
