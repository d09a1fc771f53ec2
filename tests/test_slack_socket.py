"""Socket Mode: requests come over the socket unsigned; the same app handles them, and starting
it needs no Web API call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from slack_bolt import BoltRequest

from askaround.settings import AppSettings
from askaround.wiring import Services
from bots.runtime import SlackBot
from bots.socket import socket_handler
from router.errors import Unavailable
from router.search.embedding import HashingEmbedder
from router.storage.database import Database
from tests.fake_slack import FakeSlack
from tests.slack_harness import seed
from tests.slack_signing import slash_command_body
from tests.slack_world import BOT_TOKEN, fake_slack

__all__ = ["fake_slack"]


@pytest.fixture
def socket_services(
    tmp_path: Path, database_url: str, database: Database, fake_slack: FakeSlack
) -> Iterator[Services]:
    settings = AppSettings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_name="hashing-test",
        slack_bot_token=BOT_TOKEN,
        slack_app_token="xapp-1-test",
        slack_api_url=fake_slack.api_url,
        default_k=2,
        reuse_min_similarity=1.0,  # the question here is about asking people, not reuse
    )
    services = Services(settings=settings, embedder_override=HashingEmbedder())
    services.__dict__["database"] = database
    yield services


def test_socket_mode_needs_an_app_token(socket_services: Services, now: datetime) -> None:
    settings = socket_services.settings.model_copy(update={"slack_app_token": None})
    services = Services(settings=settings, embedder_override=HashingEmbedder())
    services.__dict__["database"] = socket_services.database
    with pytest.raises(Unavailable, match="ASKAROUND_SLACK_APP_TOKEN"):
        socket_handler(services, bot=SlackBot(services, clock=lambda: now, jobs=[]))


def test_an_unsigned_socket_request_is_handled_and_nothing_calls_slack_at_start(
    socket_services: Services, fake_slack: FakeSlack, now: datetime
) -> None:
    seed(socket_services.database, now, HashingEmbedder())
    bot = SlackBot(socket_services, clock=lambda: now, jobs=[])
    handler = socket_handler(socket_services, bot=bot)
    assert fake_slack.calls(delivered_only=False) == []  # built without a single Web API call
    body = slash_command_body(
        "which hops for a hazy IPA?", user_id="UANA", response_url=fake_slack.response_url()
    )
    response = handler.app.dispatch(BoltRequest(body=body, mode="socket_mode"))
    assert response.status == 200
    dms = fake_slack.wait_for("chat.postMessage", 2)
    assert {dm.params["channel"] for dm in dms} == {"DUBO", "DUCY"}
    bot.close()
