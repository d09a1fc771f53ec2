"""external ids hold any email address: ``email:`` and the 320 characters ``people.email`` holds

At 200 characters an address over 194 did not fit its ``email:<address>`` id and was dropped;
RFC 5321 allows 254. Widening keeps every row; narrowing back refuses ids that no longer fit.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _value_length(before: int, after: int) -> None:
    with op.batch_alter_table("external_ids", schema=None) as batch_op:
        batch_op.alter_column(
            "value",
            existing_type=sa.String(length=before),
            type_=sa.String(length=after),
            existing_nullable=False,
        )


def upgrade() -> None:
    _value_length(200, 330)


def downgrade() -> None:
    _value_length(330, 200)
