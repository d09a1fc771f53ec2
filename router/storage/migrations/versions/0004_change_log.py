"""evidence change log: a table written by triggers in the same transaction as every evidence write

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Columns whose change alters what search indexes hold (weight is read live at route time).
INDEXED_COLUMNS = "person_id, kind, text, context, created_at, embedding, embedding_model"
# pg_advisory_xact_lock(ADVISORY_CLASS, network_id): one writer of a network's evidence at a time
# until commit, so the change log's seq values of one network become visible in order.
ADVISORY_CLASS = 4710

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION evidence_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_advisory_xact_lock({ADVISORY_CLASS}, OLD.network_id);
        INSERT INTO evidence_changes (network_id, evidence_id) VALUES (OLD.network_id, OLD.id);
        RETURN OLD;
    END IF;
    PERFORM pg_advisory_xact_lock({ADVISORY_CLASS}, NEW.network_id);
    INSERT INTO evidence_changes (network_id, evidence_id) VALUES (NEW.network_id, NEW.id);
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "evidence_changes",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_evidence_changes_network_seq", "evidence_changes", ["network_id", "seq"], unique=False
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(
            f"CREATE TRIGGER evidence_changed AFTER INSERT OR DELETE OR UPDATE OF {INDEXED_COLUMNS} "
            "ON evidence FOR EACH ROW EXECUTE FUNCTION evidence_log_change()"
        )
        return
    for event, row in (("INSERT", "NEW"), (f"UPDATE OF {INDEXED_COLUMNS}", "NEW"), ("DELETE", "OLD")):
        name = "evidence_changed_" + event.split()[0].lower()
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON evidence FOR EACH ROW BEGIN "
            f"INSERT INTO evidence_changes (network_id, evidence_id) VALUES ({row}.network_id, {row}.id); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS evidence_changed ON evidence")
        op.execute("DROP FUNCTION IF EXISTS evidence_log_change()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS evidence_changed_{name}")
    op.drop_index("ix_evidence_changes_network_seq", table_name="evidence_changes")
    op.drop_table("evidence_changes")
