"""Issue 9, item 8: with Slack configured, ``askaround worker`` delivers DMs through Slack and
never marks one sent that it did not send."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from askaround.cli.registry import build_cli
from askaround.wiring import Services
from router.errors import InvalidInput
from router.lifecycle import questions
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import OutboxMessage
from tests.fake_slack import FakeSlack
from tests.slack_harness import seed
from tests.slack_world import BOT_TOKEN, fake_slack, slack_settings

__all__ = ["fake_slack", "slack_settings"]


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    values = {
        "ASKAROUND_DATABASE_URL": settings.resolved_database_url,
        "ASKAROUND_DATA_DIR": str(settings.data_dir),
        "ASKAROUND_MODEL_NAME": "hashing-test",
        "ASKAROUND_SLACK_BOT_TOKEN": BOT_TOKEN,
        "ASKAROUND_SLACK_API_URL": settings.slack_api_url,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    build_cli()


def _ask(settings: Settings, database: Database, now: datetime) -> None:
    embedder = HashingEmbedder()
    ids = seed(database, now, embedder)
    services = Services(settings=settings, embedder_override=embedder)
    services.__dict__["database"] = database
    with database.transaction() as session:
        questions.ask_question(
            session,
            router=services.router,
            settings=settings,
            network_id=_network_of(database, ids["UANA"]),
            asker_id=ids["UANA"],
            text="which hops for a hazy IPA?",
            now=now,
            k=2,
        )


def _network_of(database: Database, person_id: int) -> int:
    from router.storage.schema import Person

    with database.transaction() as session:
        person = session.get(Person, person_id)
        assert person is not None
        return person.network_id


def test_the_worker_sends_slack_dms_through_slack(
    database: Database,
    fake_slack: FakeSlack,
    slack_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    now: datetime,
) -> None:
    _ask(slack_settings, database, now)
    _env(monkeypatch, slack_settings)
    result = CliRunner().invoke(build_cli(), ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output
    assert {c.params["channel"] for c in fake_slack.calls("chat.postMessage")} == {"DUBO", "DUCY"}
    assert not (slack_settings.data_dir / "outbox.jsonl").exists()


def test_the_worker_refuses_a_log_channel_that_would_swallow_slack_dms(
    database: Database,
    fake_slack: FakeSlack,
    slack_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    now: datetime,
) -> None:
    _ask(slack_settings, database, now)
    _env(monkeypatch, slack_settings)
    result = CliRunner().invoke(build_cli(), ["worker", "--once", "--channel", "log"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidInput)  # the CLI's one-line error
    assert "Slack is configured" in str(result.exception)
    with database.transaction() as session:
        statuses = set(session.scalars(select(OutboxMessage.status)))
    assert statuses == {"pending"}
    assert fake_slack.count("chat.postMessage") == 0


# --- 9: DMs claimed by a crashed worker ---------------------------------------------------------


def _claimed_by(database: Database, worker_id: str, now: datetime) -> None:
    with database.transaction() as session:
        session.execute(
            update(OutboxMessage).values(
                locked_by=f"{worker_id}/0123456789ab",
                locked_until=now + timedelta(minutes=5),
                attempts=1,
            )
        )


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_dms_claimed_by_a_crashed_worker_are_sent_without_waiting_out_the_lease(
    database: Database,
    fake_slack: FakeSlack,
    slack_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    now: datetime,
) -> None:
    _ask(slack_settings, database, now)
    _claimed_by(database, f"slack@{socket.gethostname()}:{_dead_pid()}", datetime.now(UTC))
    _env(monkeypatch, slack_settings)
    result = CliRunner().invoke(build_cli(), ["slack", "deliver"])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output and "released 2 held by crashed workers" in result.output
    assert fake_slack.count("chat.postMessage") == 2


def test_slack_deliver_says_which_messages_another_worker_holds(
    database: Database,
    fake_slack: FakeSlack,
    slack_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    now: datetime,
) -> None:
    _ask(slack_settings, database, now)
    _claimed_by(database, "slack@another-machine:42", datetime.now(UTC))
    _env(monkeypatch, slack_settings)
    result = CliRunner().invoke(build_cli(), ["slack", "deliver"])
    assert result.exit_code == 0, result.output
    assert "sent 0" in result.output
    assert "held: 2 by slack@another-machine:42 until" in result.output
    assert fake_slack.count("chat.postMessage") == 0


def test_bot_warnings_are_logged_with_time_and_level() -> None:
    code = (
        "import logging; from bots import logs; logs.configure(); "
        "logging.getLogger('bots.channel').warning('chat.update failed')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING bots.channel: chat.update failed",
        done.stderr,
    ), done.stderr
