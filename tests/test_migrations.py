"""Migrations: a database holding data upgrades from the first revision, goes back down and up
again, and four processes migrating one empty PostgreSQL schema at once all succeed."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from askaround.cli.registry import build_cli
from router.ledger.favours import person_ledger
from router.lifecycle.views import pending_asks
from router.storage.database import UNMAPPED_TABLES, Database

ROOT = Path(__file__).parent.parent
T0 = datetime(2026, 11, 2, 9, 0)  # naive UTC, as the columns store it


def _first_revision_data(database: Database) -> None:
    """Rows written the way revision 0001's tables take them (plain SQL, no models)."""
    rows = [
        "INSERT INTO networks (id, name, created_at) VALUES (1, 'old', :t)",
        "INSERT INTO people (id, network_id, display_name, timezone, opted_out, deactivated,"
        " created_at) VALUES (1, 1, 'Ana', 'UTC', false, false, :t),"
        " (2, 1, 'Ben', 'Europe/Paris', false, false, :t)",
        "INSERT INTO questions (id, network_id, asker_id, text, anonymous, k, status, round,"
        " created_at, expires_at) VALUES (1, 1, 1, 'Which hops?', false, 3, 'open', 1, :t,"
        " '2027-01-01 00:00:00')",
        "INSERT INTO asks (id, network_id, question_id, person_id, round, status, score, reasons,"
        " created_at) VALUES (1, 1, 1, 2, 1, 'pending', 1.5, '[]', :t)",
        "INSERT INTO favours (id, network_id, giver_id, taker_id, kind, weight, source_key,"
        " created_at) VALUES (1, 1, 2, 1, 'history', 1.0, 'old:1', :t)",
    ]
    with database.engine.begin() as connection:
        for statement in rows:
            connection.execute(text(statement), {"t": T0})


def test_a_database_with_data_upgrades_from_the_first_revision(database_url: str) -> None:
    database = Database(database_url)
    try:
        database.migrate("0001")
        _first_revision_data(database)
        database.migrate()
        current, head = database.revisions()
        assert current == head
        with database.transaction() as session:
            assert [a.id for a in pending_asks(session, network_id=1, person_id=2)] == [1]
            page = person_ledger(session, network_id=1, person_id=2)
            assert (page.totals.given, [d.name for d in page.owed_by]) == (1.0, ["Ana"])
        with pytest.raises(IntegrityError), database.engine.begin() as connection:
            connection.execute(text("UPDATE asks SET status = 'lost'"))
        database.downgrade("0001")
        assert database.revisions()[0] == "0001"
        database.migrate()
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM asks")).scalar() == 1
            for table in UNMAPPED_TABLES:
                assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
    finally:
        database.dispose()


def _cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        "ASKAROUND_DATABASE_URL": database_url,
        "ASKAROUND_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "askaround", *args],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_four_processes_migrating_an_empty_postgresql_schema_at_once_all_succeed(
    database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the advisory lock is PostgreSQL's; SQLite serialises writers itself")
    runs = [_cli(database_url, tmp_path, "migrate") for _ in range(4)]
    results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    database = Database(database_url)
    try:
        current, head = database.revisions()
    finally:
        database.dispose()
    assert current == head


def test_migrate_command_upgrades_downgrades_and_reports(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASKAROUND_DATABASE_URL", database_url)
    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path))
    app, runner = build_cli(), CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["migrate", *args])
        return result.exit_code, result.output

    behind = run("status")
    assert behind[0] == 1 and "run `askaround migrate`" in behind[1]
    up = run()
    assert up[0] == 0 and "(was empty)" in up[1], up
    assert run("status")[1].strip().endswith("up to date")
    down = run("downgrade", "0002")
    assert down[0] == 0 and down[1].startswith("schema at 0002"), down
    assert run("status")[0] == 1
    again = run()
    assert again[0] == 0 and "(was 0002)" in again[1]


@pytest.mark.slow
def test_a_command_exit_code_reaches_the_shell(database_url: str, tmp_path: Path) -> None:
    process = _cli(database_url, tmp_path, "migrate", "status")
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 1 and "run `askaround migrate`" in out


def test_external_ids_are_kept_through_the_widening_and_an_email_of_254_characters_fits(
    database_url: str,
) -> None:
    database = Database(database_url)
    long_id = "email:" + "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
    assert len(long_id) == len("email:") + 254
    try:
        database.migrate("0009")
        _first_revision_data(database)
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO external_ids (network_id, person_id, value) VALUES"
                    " (1, 1, 'slack:UANA'), (1, 2, 'email:ben@example.org')"
                )
            )
        database.migrate("0010")
        with database.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO external_ids (network_id, person_id, value) VALUES (1, 2, :v)"),
                {"v": long_id},
            )
            rows = connection.execute(text("SELECT value FROM external_ids ORDER BY id")).all()
        assert [r[0] for r in rows] == ["slack:UANA", "email:ben@example.org", long_id]
        with pytest.raises(IntegrityError), database.engine.begin() as connection:
            connection.execute(  # the one-id-per-network constraint survived the widening
                text("INSERT INTO external_ids (network_id, person_id, value) VALUES (1, 1, :v)"),
                {"v": long_id},
            )
        with database.engine.begin() as connection:
            connection.execute(text("DELETE FROM external_ids WHERE value = :v"), {"v": long_id})
        database.downgrade("0009")
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM external_ids")).scalar() == 2
    finally:
        database.dispose()


def test_questions_keep_their_rows_through_the_idempotency_keys_and_back(
    database_url: str,
) -> None:
    database = Database(database_url)
    keyed = (
        "INSERT INTO questions (id, network_id, asker_id, text, anonymous, k, status, round,"
        " created_at, expires_at, idempotency_key, request_hash) VALUES (:id, 1, 1, 'Which malt?',"
        " false, 3, 'open', 1, :t, '2027-01-01 00:00:00', :key, :hash)"
    )
    try:
        database.migrate("0010")
        _first_revision_data(database)
        database.migrate("0011")
        with database.engine.begin() as connection:
            old = connection.execute(text("SELECT idempotency_key, request_hash FROM questions"))
            assert old.all() == [(None, None)]  # asked before keys existed
            connection.execute(text(keyed), {"id": 2, "t": T0, "key": "k-1", "hash": "a" * 64})
            connection.execute(text(keyed), {"id": 3, "t": T0, "key": None, "hash": None})
        with pytest.raises(IntegrityError), database.engine.begin() as connection:
            connection.execute(text(keyed), {"id": 4, "t": T0, "key": "k-1", "hash": "b" * 64})
        database.downgrade("0010")
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM questions")).scalar() == 3
            assert connection.execute(text("SELECT count(*) FROM asks")).scalar() == 1
        with pytest.raises(IntegrityError), database.engine.begin() as connection:
            connection.execute(text("UPDATE questions SET status = 'lost'"))  # the check stayed
        database.migrate()
        assert database.revisions()[0] == database.revisions()[1]
    finally:
        database.dispose()
