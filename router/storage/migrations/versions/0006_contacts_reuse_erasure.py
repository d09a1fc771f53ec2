"""contacts (company, position, how known) and erasure tombstones on people

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa
import router.storage.schema.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('company', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('position', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('how_known', sa.String(length=300), nullable=True))
        batch_op.add_column(
            sa.Column('erased_at', router.storage.schema.base.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
        batch_op.drop_column('how_known')
        batch_op.drop_column('position')
        batch_op.drop_column('company')
