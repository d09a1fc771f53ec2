"""The /slack/events mount: needs a signing secret, runs the courier with the app's lifespan,
and refuses oversized or undecodable bodies before bolt sees them."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from askaround.wiring import Services
from bots.http import MAX_BODY, mount_slack
from bots.runtime import SlackBot
from router.database import Database
from router.embedding import HashingEmbedder
from router.errors import Unavailable
from router.settings import Settings
from tests.slack_signing import signed_headers
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
