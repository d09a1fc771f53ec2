"""Shared fixtures: a real database (SQLite by default, PostgreSQL when
``ASKAROUND_TEST_DATABASE_URL`` is set; each test session gets its own schema), a fixed clock,
and the deterministic hashing embedder."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from askaround.settings import AppSettings
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from tests.api_client import ApiHarness

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

PG_URL = os.environ.get("ASKAROUND_TEST_DATABASE_URL")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


def _pg_schema_url(base: str, schema: str) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test: a SQLite file, or a new PostgreSQL schema."""
    if PG_URL:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            yield _pg_schema_url(PG_URL, schema)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
    else:
        yield f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return AppSettings(
        data_dir=tmp_path / "data", database_url=database_url, model_name="hashing-test"
    )


@pytest.fixture
def api(settings: Settings, now: datetime) -> Iterator[ApiHarness]:
    """The HTTP API on a live server over the test database (a file may override ``settings``)."""
    harness = ApiHarness.start(settings, now=now)
    yield harness
    harness.close()
