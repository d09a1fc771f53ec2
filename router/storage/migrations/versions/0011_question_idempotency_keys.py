"""idempotency keys: a question remembers the client's key and a hash of the request that made it

``POST /v1/questions`` with an ``Idempotency-Key`` is safe to retry: the same request again
returns the question already created. Both columns are empty for existing questions (asked
without a key); a unique index, not a table constraint, so SQLite adds it without rebuilding
the table. Going down drops the keys (the questions stay).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEX = "uq_questions_network_idempotency_key"


def upgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
    op.create_index(INDEX, "questions", ["network_id", "idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="questions")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("request_hash")
        batch_op.drop_column("idempotency_key")
