"""inbound requests: what the Slack bot acknowledged and still has to carry out

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:10:00
"""

import sqlalchemy as sa
from alembic import op

import router.storage.schema.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", router.storage.schema.base.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", router.storage.schema.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_requests")),
        sa.UniqueConstraint("key", name=op.f("uq_inbound_requests_key")),
    )
    with op.batch_alter_table("inbound_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_requests_pending", ["done_at", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_requests_pending")
    op.drop_table("inbound_requests")
