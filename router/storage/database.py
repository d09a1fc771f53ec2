"""Engines, sessions and migrations. Callers own transactions: ``with database.transaction() as s``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from router.errors import InvalidInput

MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key every migration takes on PostgreSQL (any constant both sides agree on).
MIGRATION_LOCK = 0x41534B52  # "ASKR"
# Tables the migrations create that no ORM model maps: Slack's OAuth stores, used by slack_sdk.
UNMAPPED_TABLES = frozenset({"slack_bots", "slack_installations", "slack_oauth_states"})
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


# Connections one process holds at most. The HTTP API admits at most this many requests at
# once (askaround.api.admission), so a request never waits for a connection held by a request
# that is itself waiting; a wait that still runs out is ``sqlalchemy.exc.TimeoutError`` (a 503).
POOL_SIZE = 8
POOL_OVERFLOW = 4
POOL_TIMEOUT_SECONDS = 10.0


def _restore_busy_timeout(dbapi_connection: Any, record: Any) -> None:
    """A connection lent with a short lock wait goes back to the pool with the usual one."""
    if record is not None and record.info.pop(SHORT_WAIT, False):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys on every connection.

    ``hide_parameters``: a database error's message never carries the values written (question
    and answer text), so logging the error cannot leak them.
    """
    pool = {
        "pool_size": POOL_SIZE,
        "max_overflow": POOL_OVERFLOW,
        "pool_timeout": POOL_TIMEOUT_SECONDS,
        "hide_parameters": True,
    }
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            pool = {"hide_parameters": True}  # in memory: one shared connection, no pool to size
        engine = create_engine(
            url, connect_args={"timeout": 10, "check_same_thread": False}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkin", _restore_busy_timeout)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


@contextmanager
def _known_revision(revision: str) -> Iterator[None]:
    """Alembic refusing ``revision`` (unknown, out of range) as InvalidInput, schema untouched."""
    if not revision.strip():
        raise InvalidInput("name a revision to go to, e.g. 0002, head or base")
    try:
        yield
    except CommandError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InvalidInput(f"no revision {revision!r} to go to: {reason}") from None


class Database:
    """One engine plus a session factory; the single handle every edge passes to the core."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def capacity(self) -> int:
        """How many connections (so concurrent transactions) this process can hold at once."""
        return POOL_SIZE + POOL_OVERFLOW

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def _alembic(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` (idempotent; on PostgreSQL under an advisory lock)."""
        with _known_revision(revision):
            command.upgrade(self._alembic(), revision)

    def downgrade(self, revision: str) -> None:
        """Take the schema back down to ``revision`` (under the same lock)."""
        with _known_revision(revision):
            command.downgrade(self._alembic(), revision)

    def revisions(self) -> tuple[str | None, str]:
        """The schema's current revision (None when empty) and the newest the code knows."""
        head = ScriptDirectory.from_config(self._alembic()).get_current_head()
        assert head is not None
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current, head

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
