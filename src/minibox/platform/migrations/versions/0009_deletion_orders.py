"""Deletion orders for a user's data across hosts, and each host's acknowledgement

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deletion_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_deletion_orders_org_id"), "deletion_orders", ["org_id"], unique=False)
    op.create_index(op.f("ix_deletion_orders_user_id"), "deletion_orders", ["user_id"], unique=False)
    op.create_table(
        "deletion_acks",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("host_pk", sa.Integer(), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["deletion_orders.id"]),
        sa.ForeignKeyConstraint(["host_pk"], ["hosts.id"]),
        sa.PrimaryKeyConstraint("order_id", "host_pk"),
    )


def downgrade() -> None:
    op.drop_table("deletion_acks")
    op.drop_index(op.f("ix_deletion_orders_user_id"), table_name="deletion_orders")
    op.drop_index(op.f("ix_deletion_orders_org_id"), table_name="deletion_orders")
    op.drop_table("deletion_orders")
