"""Multi-workspace install through OAuth: each workspace gets its own network and its own token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from askaround.settings import AppSettings
from askaround.wiring import Services
from bots.http import mount_slack
from bots.runtime import SlackBot
from router.search.embedding import HashingEmbedder
from router.storage.database import Database
from router.storage.schema import Network
from tests import slack_signing
from tests.fake_slack import FakeSlack
from tests.slack_world import fake_slack

__all__ = ["fake_slack"]


@pytest.fixture
def multi(
    tmp_path: Path, database_url: str, database: Database, fake_slack: FakeSlack, now: datetime
) -> Iterator[tuple[TestClient, SlackBot]]:
    settings = AppSettings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_name="hashing-test",
        slack_signing_secret=slack_signing.SECRET,
        slack_api_url=fake_slack.api_url,
        slack_client_id="111.222",
        slack_client_secret="oauth-secret",
    )
    services = Services(settings=settings, embedder_override=HashingEmbedder())
    services.__dict__["database"] = database
    bot = SlackBot.build(services, clock=lambda: now)
    app = FastAPI()
    mount_slack(app, services, bot=bot, run_courier=False)
    with TestClient(app) as client:
        yield client, bot
    bot.close()


def _install(client: TestClient, fake: FakeSlack, *, team: str, token: str, code: str) -> None:
    fake.add_oauth_code(code, team_id=team, bot_token=token)
    page = client.get("/slack/install")
    assert page.status_code == 200
    state = re.search(r"state=([\w-]+)", page.text)
    assert state is not None, page.text
    cookie = page.headers["set-cookie"].split(";")[0]
    done = client.get(
        f"/slack/oauth_redirect?code={code}&state={state.group(1)}", headers={"Cookie": cookie}
    )
    assert done.status_code == 200, done.text


def test_each_installed_workspace_gets_its_network_and_is_served_with_its_token(
    multi: tuple[TestClient, SlackBot], fake_slack: FakeSlack
) -> None:
    client, bot = multi
    _install(client, fake_slack, team="T111", token="xoxb-team-one", code="code-1")
    _install(client, fake_slack, team="T222", token="xoxb-team-two", code="code-2")
    with bot.transaction() as session:
        teams = set(session.scalars(select(Network.slack_team_id)))
    assert teams == {"T111", "T222"}

    for team in ("T111", "T222"):
        body = slash_body(team, fake_slack.response_url(team))
        response = client.post(
            "/slack/events", content=body.encode(), headers=slack_signing.signed_headers(body)
        )
        assert response.status_code == 200
    infos = fake_slack.wait_for("users.info", 2)
    assert {call.token for call in infos} == {"xoxb-team-one", "xoxb-team-two"}
    replies = fake_slack.wait_for("response_url", 2)
    assert {call.path for call in replies} == {"/hooks/T111", "/hooks/T222"}


def test_a_workspace_that_never_installed_is_refused(
    multi: tuple[TestClient, SlackBot], fake_slack: FakeSlack
) -> None:
    client, bot = multi
    body = slash_body("T999", fake_slack.response_url("x"))
    response = client.post(
        "/slack/events", content=body.encode(), headers=slack_signing.signed_headers(body)
    )
    assert response.status_code == 200
    (refusal,) = fake_slack.wait_for("response_url")
    assert "install" in str(refusal.params.get("text")).lower()
    with bot.transaction() as session:
        assert session.scalars(select(Network)).all() == []


def slash_body(team: str, url: str) -> str:
    return slack_signing.slash_command_body(
        "balance", user_id="UANA", response_url=url, team_id=team
    )
