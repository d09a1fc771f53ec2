"""evidence change log: a weight edit is logged too, so search indexes keep weights in memory

Routes read each piece of evidence's weight from the index instead of querying the database per
route; a decline lowers a weight, and every process must see that at its next check.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BEFORE = "person_id, kind, text, context, created_at, embedding, embedding_model"
AFTER = f"{BEFORE}, weight"


def _log_updates_of(columns: str) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS evidence_changed ON evidence")
        op.execute(
            f"CREATE TRIGGER evidence_changed AFTER INSERT OR DELETE OR UPDATE OF {columns} "
            "ON evidence FOR EACH ROW EXECUTE FUNCTION evidence_log_change()"
        )
        return
    op.execute("DROP TRIGGER IF EXISTS evidence_changed_update")
    op.execute(
        f"CREATE TRIGGER evidence_changed_update AFTER UPDATE OF {columns} ON evidence "
        "FOR EACH ROW BEGIN "
        "INSERT INTO evidence_changes (network_id, evidence_id) VALUES (NEW.network_id, NEW.id); END"
    )


def upgrade() -> None:
    _log_updates_of(AFTER)


def downgrade() -> None:
    _log_updates_of(BEFORE)
