"""Fixtures for the Slack tests: a running fake Slack, settings pointing at it, a workspace.

Import the fixtures into a test module (``from tests.slack_world import fake_slack, ...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from askaround.settings import AppSettings
from bots import workspace
from router.settings import Settings
from router.storage.database import Database
from tests.fake_slack import TEAM_ID, FakeSlack
from tests.slack_signing import SECRET

BOT_TOKEN = "xoxb-test-token"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.accept_token(BOT_TOKEN)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def slack_settings(tmp_path: Path, database_url: str, fake_slack: FakeSlack) -> Settings:
    return AppSettings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_name="hashing-test",
        slack_signing_secret=SECRET,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=fake_slack.api_url,
        default_k=2,
        reuse_min_similarity=1.0,  # these stories ask people; tests/test_slack_reuse.py reuses
    )


def member(
    user_id: str, name: str, *, tz: str = "Europe/Paris", **extra: object
) -> dict[str, object]:
    """A users.list / users.json member record."""
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": name.lower(),
        "real_name": name,
        "tz": tz,
        "deleted": False,
        "is_bot": False,
        "profile": {
            "real_name": name,
            "display_name": name,
            "email": f"{name.lower().replace(' ', '.')}@example.com",
        },
        **extra,
    }


def add_members(database: Database, now: datetime, *members: dict[str, object]) -> dict[str, int]:
    """People in the fake workspace's network; returns person ids by Slack id."""
    ids = {}
    with database.transaction() as session:
        network = workspace.team_network(session, team_id=TEAM_ID, now=now)
        for record in members:
            person = workspace.apply_member(session, network_id=network.id, user=record, now=now)
            ids[str(record["id"])] = person.id
    return ids


def network_id(database: Database, now: datetime) -> int:
    with database.transaction() as session:
        return workspace.team_network(session, team_id=TEAM_ID, now=now).id
