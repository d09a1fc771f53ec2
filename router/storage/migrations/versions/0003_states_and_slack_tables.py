"""question and ask states are checked; Slack's OAuth tables are in the migrations

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 16:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# Frozen copies of router.lifecycle.states at this revision (a later change is a new revision).
QUESTION_STATES = ("open", "answered", "closed", "expired")
ASK_STATES = ("pending", "answered", "passed", "declined", "expired")


def _in(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_questions_status'), _in(QUESTION_STATES))
    with op.batch_alter_table('asks', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_asks_status'), _in(ASK_STATES))


def downgrade() -> None:
    with op.batch_alter_table('asks', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_asks_status'), type_='check')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_questions_status'), type_='check')
