"""Code protection: the app's setting, and each version's delivered (protected) bundle and private maps

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("code_protection", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("protected_bundle_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("sourcemap_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("sourcemap_sha256")
        batch.drop_column("protected_bundle_sha256")
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("code_protection")
