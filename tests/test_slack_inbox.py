"""The bot's inbox while the database is busy: the same request recorded at once by several
threads (a re-sent /ask, Slack's retries) is spooled once, and every caller learns whether it
was first, none of them fails."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pytest

from bots.inbox import Inbox
from router.storage.database import Database
from tests.conftest import PG_URL

COPIES = 8
ROUNDS = 5


def _record_at_once(inbox: Inbox, key: str) -> tuple[list[bool], list[BaseException]]:
    """``COPIES`` threads record ``key`` together; what each was told, and what each raised."""
    start = threading.Barrier(COPIES)
    firsts: list[bool] = []
    errors: list[BaseException] = []

    def record() -> None:
        start.wait()
        try:
            firsts.append(inbox.record(key=key, kind="slack_command", payload={"n": 1}))
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return firsts, errors


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's single write lock is what an import holds")
def test_one_request_spooled_by_several_threads_at_once_is_recorded_once_without_errors(
    database: Database, database_url: str, tmp_path: Path, now: datetime
) -> None:
    inbox = Inbox(database=database, spool_dir=tmp_path / "spool", clock=lambda: now)
    importer = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=10)
    importer.execute("BEGIN IMMEDIATE")  # the database is busy: every record goes to the spool
    try:
        for round_ in range(ROUNDS):
            firsts, errors = _record_at_once(inbox, f"slack-command:T1:trig-{round_}")
            assert errors == [] and sorted(firsts) == [False] * (COPIES - 1) + [True]
    finally:
        importer.rollback()
        importer.close()
    assert len(list((tmp_path / "spool").glob("*.json"))) == ROUNDS
    assert list((tmp_path / "spool").glob("*.tmp")) == []
    assert inbox.drain() == ROUNDS
