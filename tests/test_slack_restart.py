"""Issue 9, items 3 and 4 with a real process: ``askaround serve`` in HTTP mode acknowledges an
``/ask`` while the database is held by another writer, is killed (SIGKILL) or stopped (SIGTERM)
before it could ask anyone, and the restarted process asks the question, once."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Question
from tests import slack_signing
from tests.fake_slack import FakeSlack
from tests.serve_process import free_port, start_serve
from tests.slack_harness import seed
from tests.slack_world import BOT_TOKEN, fake_slack, slack_settings

__all__ = ["fake_slack", "slack_settings"]


def _serve(settings: Settings, fake: FakeSlack, port: int) -> subprocess.Popen[bytes]:
    process = start_serve(
        settings.resolved_database_url,
        settings.data_dir,
        port,
        environment={
            "ASKAROUND_SLACK_SIGNING_SECRET": slack_signing.SECRET,
            "ASKAROUND_SLACK_BOT_TOKEN": BOT_TOKEN,
            "ASKAROUND_SLACK_API_URL": fake.api_url,
            "ASKAROUND_DEFAULT_K": "2",
            "ASKAROUND_REUSE_MIN_SIMILARITY": "1.0",  # this story asks people
        },
    )
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return process
        assert process.poll() is None, "askaround serve exited"
        assert time.monotonic() < deadline, "askaround serve never came up"
        time.sleep(0.1)


@contextlib.contextmanager
def _database_held(url: str) -> Iterator[None]:
    """Another writer holds what asking needs (SQLite: the write lock; PostgreSQL: networks)."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(text("LOCK TABLE networks IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


def _questions(database: Database) -> int:
    with database.transaction() as session:
        return int(session.scalar(select(func.count(Question.id))) or 0)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_an_acknowledged_ask_survives_the_process_being_stopped_right_after_the_ack(
    slack_settings: Settings,
    fake_slack: FakeSlack,
    database: Database,
    now: datetime,
    stop: signal.Signals,
) -> None:
    seed(database, now, HashingEmbedder())
    port = free_port()
    server = _serve(slack_settings, fake_slack, port)
    try:
        body = slack_signing.slash_command_body(
            "which hops for a hazy IPA?", user_id="UANA", response_url=fake_slack.response_url()
        )
        with _database_held(slack_settings.resolved_database_url):
            response = httpx.post(
                f"http://127.0.0.1:{port}/slack/events",
                content=body.encode(),
                headers=slack_signing.signed_headers(body),
                timeout=30,
            )
            assert response.status_code == 200
            assert "Finding the right people" in response.text
            server.send_signal(stop)  # right after the ack, before anyone could be asked
            if stop == signal.SIGKILL:
                server.wait(30)
        server.wait(60)
        server = _serve(slack_settings, fake_slack, port)  # a deploy's restart
        fake_slack.wait_for("chat.postMessage", 3, timeout=60)  # two asks and the receipt DM
        receipts = fake_slack.wait_for("response_url", timeout=30)
        assert "<@UBO>" in str(receipts[0].params.get("text"))
        assert _questions(database) == 1
        assert sorted(c.params["channel"] for c in fake_slack.calls("chat.postMessage")) == [
            "DUANA",
            "DUBO",
            "DUCY",
        ]
    finally:
        server.kill()
        server.wait(30)
