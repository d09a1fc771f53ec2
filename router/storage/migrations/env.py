"""Alembic environment: runs against the engine ``Database`` hands over (or the configured URL),
on PostgreSQL under a transaction-scoped advisory lock, so processes migrating at once take turns."""

from alembic import context
from sqlalchemy import create_engine, text

from router.storage.database import MIGRATION_LOCK, UNMAPPED_TABLES
from router.storage.schema import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from router.settings import Settings

        url = Settings().resolved_database_url
    engine = create_engine(url)


def include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    """Autogenerate leaves alone the tables no ORM model maps (Slack's OAuth stores)."""
    return not (type_ == "table" and name in UNMAPPED_TABLES)


def run(connection):  # type: ignore[no-untyped-def]
    with connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_name=include_name,
        )
        context.run_migrations()


with engine.connect() as connection:
    if connection.dialect.name != "sqlite":
        run(connection)
    else:
        # SQLite's batch migrations rebuild a table by copying it and dropping the old one; with
        # foreign keys on, that drop would cascade and delete the rows that point at it.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            run(connection)
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
