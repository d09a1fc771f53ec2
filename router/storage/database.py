"""Engines, sessions and migrations. Callers own transactions: ``with database.transaction() as s``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
SHORT_WAIT = "askaround_short_wait"  # marks a pooled connection whose lock wait was shortened


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside one writer; the busy timeout waits instead of failing at once."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _restore_busy_timeout(dbapi_connection: Any, record: Any) -> None:
    """A connection lent with a short lock wait goes back to the pool with the usual one."""
    if record is not None and record.info.pop(SHORT_WAIT, False):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys on every connection."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 10, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkin", _restore_busy_timeout)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """One engine plus a session factory; the single handle every edge passes to the core."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        command.upgrade(config, "head")

    @contextmanager
    def transaction(self, *, wait: float | None = None) -> Iterator[Session]:
        """A session whose work commits on success and rolls back entirely on any error.

        ``wait`` caps, in seconds, how long a write waits for another writer's lock (SQLite's
        busy timeout, PostgreSQL's lock timeout) before failing with ``OperationalError``: for
        work that must answer quickly (an acknowledgement) and has another way to go.
        """
        with self.sessions() as session, session.begin():
            if wait is not None:
                self._shorten_wait(session, wait)
            yield session

    def _shorten_wait(self, session: Session, wait: float) -> None:
        connection = session.connection()
        milliseconds = max(1, int(wait * 1000))
        if self.is_sqlite:
            connection.connection.info[SHORT_WAIT] = True
            connection.exec_driver_sql(f"PRAGMA busy_timeout={milliseconds}")
        else:
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")

    def dispose(self) -> None:
        self.engine.dispose()
