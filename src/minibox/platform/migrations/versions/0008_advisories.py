"""Advisories (OSV) an organisation imported, indexed by npm package name

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advisories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("osv_id", sa.String(length=128), nullable=False),
        sa.Column("modified", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "osv_id"),
    )
    op.create_index(op.f("ix_advisories_org_id"), "advisories", ["org_id"], unique=False)
    op.create_table(
        "advisory_packages",
        sa.Column("advisory_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=214), nullable=False),
        sa.ForeignKeyConstraint(["advisory_pk"], ["advisories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("advisory_pk", "name"),
    )
    op.create_index(op.f("ix_advisory_packages_name"), "advisory_packages", ["name"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_advisory_packages_name"), table_name="advisory_packages")
    op.drop_table("advisory_packages")
    op.drop_index(op.f("ix_advisories_org_id"), table_name="advisories")
    op.drop_table("advisories")
