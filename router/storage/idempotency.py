"""Writing a row at most once: the insert that keeps the first row when its unique key exists.

Favours (``source_key``) and outbox messages (``idempotency_key``) both rely on it, so a second
click, a retried request or two concurrent writers store one row, never two and never an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from router.storage.schema import Base


def insert_once(
    session: Session,
    *,
    model: type[Base],
    values: dict[str, Any],
    unique: Sequence[str],
) -> bool:
    """Insert ``values`` unless a row with the same ``unique`` columns exists; True if inserted.

    ``INSERT ... ON CONFLICT DO NOTHING`` on both databases, so a concurrent writer of the same
    key waits for the first and then does nothing, instead of failing its whole transaction.
    """
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = (
            postgresql.insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(unique))
        )
    elif dialect == "sqlite":
        statement = (
            sqlite.insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(unique))
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        statement = insert(model).values(**values)
    # RETURNING says whether a row went in; rowcount is -1 on PostgreSQL's implicit RETURNING.
    keys = list(sa_inspect(model).primary_key)
    return session.execute(statement.returning(*keys)).first() is not None
