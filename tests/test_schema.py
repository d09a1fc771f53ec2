"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, inspect, text

from router.storage.database import UNMAPPED_TABLES, Database
from router.storage.schema import Base


def _mapped_only(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name in UNMAPPED_TABLES)


def test_migrations_and_models_agree(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": _mapped_only})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_slacks_oauth_tables_come_from_the_migrations_as_slack_sdk_defines_them(
    database: Database,
) -> None:
    installations = SQLAlchemyInstallationStore(client_id="c", engine=database.engine)
    states = SQLAlchemyOAuthStateStore(expiration_seconds=60, engine=database.engine)
    expected = MetaData()
    for table in [*installations.metadata.tables.values(), *states.metadata.tables.values()]:
        table.to_metadata(expected)
    assert set(expected.tables) == UNMAPPED_TABLES

    def slack_only(name: str | None, type_: str, parent_names: object) -> bool:
        return type_ != "table" or name in UNMAPPED_TABLES

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": slack_only})
        assert compare_metadata(context, expected) == []


def test_migrating_twice_changes_nothing(database: Database) -> None:
    before = sorted(inspect(database.engine).get_table_names())
    database.migrate()
    assert sorted(inspect(database.engine).get_table_names()) == before


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("a SQLite setting")
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert int(connection.execute(text("PRAGMA busy_timeout")).scalar() or 0) >= 5000
