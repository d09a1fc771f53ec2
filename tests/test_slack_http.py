"""The /slack/events mount: needs a signing secret, runs the courier with the app's lifespan,
and refuses oversized or undecodable bodies before bolt sees them."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from askaround.wiring import Services
from bots.http import MAX_BODY, mount_slack
from bots.runtime import SlackBot
from router.delivery.outbox import outbox_counts
from router.errors import Unavailable
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from tests.fake_slack import FakeSlack
from tests.slack_harness import seed
from tests.slack_signing import signed_headers, slash_command_body
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "slack_settings"]


def _services(settings: Settings, database: Database) -> Services:
    services = Services(settings=settings, embedder_override=HashingEmbedder())
    services.__dict__["database"] = database
    return services


def test_http_mode_needs_the_signing_secret(slack_settings: Settings, database: Database) -> None:
    settings = slack_settings.model_copy(update={"slack_signing_secret": None})
    with pytest.raises(Unavailable, match="ASKAROUND_SLACK_SIGNING_SECRET"):
        mount_slack(FastAPI(), _services(settings, database))


def test_the_courier_runs_with_the_app_and_stops_with_it(
    slack_settings: Settings, database: Database, now: datetime
) -> None:
    services = _services(slack_settings, database)
    bot = SlackBot(services, clock=lambda: now, jobs=[])
    app = FastAPI()
    mount_slack(app, services, bot=bot)
    with TestClient(app):
        thread = bot.courier._thread
        assert thread is not None and thread.is_alive()
    assert bot.courier._thread is None and not thread.is_alive()
    bot.close()


def test_oversized_and_undecodable_bodies_are_refused(
    slack_settings: Settings, database: Database, now: datetime
) -> None:
    services = _services(slack_settings, database)
    bot = SlackBot(services, clock=lambda: now, jobs=[])
    app = FastAPI()
    mount_slack(app, services, bot=bot, run_courier=False)
    with TestClient(app) as client:
        big = "x" * (MAX_BODY + 1)
        assert (
            client.post("/slack/events", content=big, headers=signed_headers(big)).status_code
            == 413
        )
        raw = b"text=\xff\xfe"
        headers = signed_headers(raw.decode("latin-1"))
        assert client.post("/slack/events", content=raw, headers=headers).status_code == 400
    bot.close()


def test_the_app_starts_and_takes_questions_while_slack_is_unreachable(
    slack_settings: Settings, database: Database, fake_slack: FakeSlack, now: datetime
) -> None:
    seed(database, now, HashingEmbedder())
    response_url = fake_slack.response_url()
    fake_slack.stop()  # nothing listens at the Web API URL any more
    services = _services(slack_settings, database)
    bot = SlackBot(services, clock=lambda: now, jobs=[])
    app = FastAPI()
    mount_slack(app, services, bot=bot)
    body = slash_command_body(
        "which hops for a hazy IPA?", user_id="UANA", response_url=response_url
    )
    with TestClient(app) as client:
        response = client.post("/slack/events", content=body.encode(), headers=signed_headers(body))
        assert response.status_code == 200
        assert response.json()["text"].startswith("Finding the right people")
        deadline = time.monotonic() + 10
        while True:
            with database.transaction() as session:
                counts = outbox_counts(session)
            if counts["pending"] == 3:
                break  # both asks and the receipt wait in the outbox for Slack to come back
            assert time.monotonic() < deadline, counts
            time.sleep(0.05)
    bot.close()
