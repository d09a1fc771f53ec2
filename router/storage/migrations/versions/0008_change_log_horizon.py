"""evidence change log horizon: how far each network's log has been pruned

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_change_horizons",
        sa.Column("network_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pruned_through", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("network_id", name=op.f("pk_evidence_change_horizons")),
    )


def downgrade() -> None:
    op.drop_table("evidence_change_horizons")
