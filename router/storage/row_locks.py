"""Holding one row until the caller's transaction ends, the same way on both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session


def hold_row(
    session: Session,
    key: InstrumentedAttribute[int],
    row_id: int,
    *,
    unchanged: InstrumentedAttribute[Any],
) -> None:
    """Lock the row whose ``key`` is ``row_id`` so that whoever locks it next waits for this
    transaction and then sees what it committed.

    PostgreSQL locks the row ``FOR NO KEY UPDATE``: rows that reference it (asks of a network,
    evidence of a person) do not wait for it. SQLite, with one writer at a time, starts the write
    transaction at once with a no-op update (``unchanged`` set to itself).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(key.class_)
            .where(key == row_id)
            .values({unchanged: unchanged})
            .execution_options(synchronize_session=False)
        )
    else:
        session.execute(select(key).where(key == row_id).with_for_update(key_share=True))
