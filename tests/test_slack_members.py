"""Member sync: every page of users.list, names, timezones, deactivations; and the Slack CLI."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from askaround.cli.app import app
from askaround.cli.registry import build_cli
from bots import members, workspace
from bots.clients import web_client
from router.errors import Unavailable
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import ExternalId, Person
from tests.fake_slack import TEAM_ID, FakeSlack
from tests.slack_world import BOT_TOKEN, add_members, fake_slack, member, slack_settings

__all__ = ["fake_slack", "slack_settings"]


def _team(n: int) -> list[dict[str, object]]:
    people = [member(f"U{i:04d}", f"Person {i}", tz="Asia/Kolkata") for i in range(n)]
    return [
        *people,
        {"id": "USLACKBOT", "name": "slackbot"},
        {"id": "UB1", "name": "ci", "is_bot": True},
    ]


def test_every_page_is_fetched_following_the_cursor(
    fake_slack: FakeSlack, slack_settings: Settings
) -> None:
    fake_slack.set_members(_team(450))
    listed = members.fetch_members(web_client(slack_settings, BOT_TOKEN))
    assert len(listed) == 452
    cursors = [call.params.get("cursor") for call in fake_slack.calls("users.list")]
    assert cursors == [None, "200", "400"]


def test_sync_creates_updates_and_deactivates_people(
    database: Database, fake_slack: FakeSlack, slack_settings: Settings, now: datetime
) -> None:
    ids = add_members(database, now, member("UANA", "Ana"), member("UBO", "Bo"))
    fake_slack.set_members(
        [
            member("UANA", "Ana Lima", tz="America/Sao_Paulo"),
            member("UBO", "Bo", deleted=True),
            member("UNEW", "Newt"),
            {"id": "UB1", "name": "ci", "is_bot": True},
        ]
    )
    listed = members.fetch_members(web_client(slack_settings, BOT_TOKEN))
    with database.transaction() as session:
        network = workspace.team_network(session, team_id=TEAM_ID, now=now)
        report = members.apply_members(session, network_id=network.id, members=listed, now=now)
    assert report.as_dict() == {
        "members": 3,
        "created": 1,
        "updated": 2,
        "deactivated": 1,
        "skipped_bots": 1,
        "skipped_invalid": 0,
    }
    with database.transaction() as session:
        ana = session.get(Person, ids["UANA"])
        bo = session.get(Person, ids["UBO"])
        assert ana is not None and bo is not None
        assert (ana.display_name, ana.timezone, ana.deactivated) == (
            "Ana Lima",
            "America/Sao_Paulo",
            False,
        )
        assert bo.deactivated
        emails = set(
            session.scalars(select(ExternalId.value).where(ExternalId.value.like("email:%")))
        )
    assert emails == {  # an address once known still finds the person
        "email:ana@example.com",
        "email:ana.lima@example.com",
        "email:bo@example.com",
        "email:newt@example.com",
    }


def test_a_failure_mid_listing_stores_nothing(
    database: Database, fake_slack: FakeSlack, slack_settings: Settings
) -> None:
    fake_slack.set_members(_team(450))
    fake_slack.fail("users.list", status=500, times=1)  # the first page: retried
    listed = members.fetch_members(web_client(slack_settings, BOT_TOKEN, backoff=0.01))
    assert len(listed) == 452
    fake_slack.reset_calls()
    fake_slack.fail("users.list", status=None, times=10)  # Slack gone for good
    with pytest.raises(Unavailable, match=r"users\.list"):
        members.fetch_members(web_client(slack_settings, BOT_TOKEN, backoff=0.01))


LONG = "x" * 5_000
ODD_MEMBERS = [  # each beyond a column or with text no database stores, as Slack could send it
    member("ULONG", "Long", profile={"display_name": LONG, "email": "a" * 330 + "@example.com"}),
    member("UNUL", "N", profile={"display_name": "Na\x00na", "email": "na\x00@example.com"}),
    member("USUR", "S", profile={"real_name": "Su\ud800e", "title": LONG}, tz="Mars/" + LONG),
    member("UWIDE", "W", profile={"email": "w" * 190 + "@example.com"}),  # over 194: fits now
    member("UFLAT", "F", profile="not a profile"),
]


def _synced(
    database: Database, now: datetime, listed: list[dict[str, object]]
) -> dict[str, object]:
    with database.transaction() as session:
        network = workspace.team_network(session, team_id=TEAM_ID, now=now)
        return members.apply_members(
            session, network_id=network.id, members=listed, now=now
        ).as_dict()


def _people(database: Database) -> dict[str, tuple[str, str | None, str]]:
    """Slack id -> (name, email, timezone) of everyone stored."""
    with database.transaction() as session:
        rows = session.execute(
            select(ExternalId.value, Person.display_name, Person.email, Person.timezone)
            .join(Person, Person.id == ExternalId.person_id)
            .where(ExternalId.value.like("slack:%"))
        ).all()
    return {value.removeprefix("slack:"): (name, email, tz) for value, name, email, tz in rows}


def test_a_member_with_fields_no_database_stores_is_synced_cleaned(
    database: Database, fake_slack: FakeSlack, slack_settings: Settings, now: datetime
) -> None:
    fake_slack.set_members(ODD_MEMBERS)
    listed = members.fetch_members(web_client(slack_settings, BOT_TOKEN))
    report = _synced(database, now, listed)
    assert (report["members"], report["created"], report["skipped_invalid"]) == (5, 5, 0)
    stored = _people(database)
    assert stored["ULONG"] == ("x" * 200, None, "Europe/Paris")  # name clipped, address dropped
    assert stored["UNUL"] == ("Nana", None, "Europe/Paris")
    assert stored["USUR"] == ("Sue", None, "UTC")  # an unknown time zone is left out
    assert stored["UWIDE"] == ("W", "w" * 190 + "@example.com", "Europe/Paris")
    assert stored["UFLAT"] == ("F", None, "Europe/Paris")


def test_a_member_whose_id_cannot_be_stored_is_skipped_and_the_rest_synced(
    database: Database, now: datetime
) -> None:
    listed = [
        member("UANA", "Ana"),
        member("U\x00X", "Nul"),
        member("U" + "9" * 300, "Wide"),
        member("UBO", "Bo"),
    ]
    report = _synced(database, now, listed)
    assert (report["members"], report["created"], report["skipped_invalid"]) == (2, 2, 2)
    assert set(_people(database)) == {"UANA", "UBO"}


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


def test_cli_sync_members_and_summary_send(
    database: Database,
    fake_slack: FakeSlack,
    slack_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, slack_settings)
    fake_slack.set_members(_team(3))
    runner = CliRunner()
    synced = runner.invoke(app, ["slack", "sync-members", "--team", TEAM_ID])
    assert synced.exit_code == 0, synced.output
    assert "3 members (3 new" in synced.output
    again = runner.invoke(app, ["slack", "sync-members"])  # the only workspace
    assert again.exit_code == 0 and "0 new, 0 updated" in again.output
    sent = runner.invoke(app, ["slack", "summary-send"])
    assert sent.exit_code == 0, sent.output
    assert "3 with nothing to report" in sent.output


def test_cli_sync_members_goes_on_past_a_member_it_cannot_store(
    database: Database,
    fake_slack: FakeSlack,
    slack_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, slack_settings)
    fake_slack.set_members([*_team(2), *ODD_MEMBERS, member("U\x00X", "Nul")])
    synced = CliRunner().invoke(app, ["slack", "sync-members", "--team", TEAM_ID])
    assert synced.exit_code == 0, synced.output
    assert "7 members (7 new" in synced.output and "1 skipped" in synced.output
    assert len(_people(database)) == 7


def test_cli_manifest_prints_the_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_cli()
    result = CliRunner().invoke(app, ["slack", "manifest"])
    assert result.exit_code == 0 and "command: /ask" in result.output


def test_cli_bot_without_socket_explains_http_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    build_cli()
    result = CliRunner().invoke(app, ["bot"])
    assert result.exit_code != 0
    assert "askaround serve" in str(result.exception) + result.output


def test_a_member_whose_display_name_is_invisible_is_synced_under_their_real_name(
    database: Database, fake_slack: FakeSlack, slack_settings: Settings, now: datetime
) -> None:
    fake_slack.set_members(
        [
            member("UZW", "zw", profile={"display_name": "\u200b\u200b", "real_name": "Zoe"}),
            member("UFILL", "Fi", profile={"display_name": "\u3164", "real_name": " \ufeff "}),
        ]
    )
    report = _synced(database, now, members.fetch_members(web_client(slack_settings, BOT_TOKEN)))
    assert (report["members"], report["created"], report["skipped_invalid"]) == (2, 2, 0)
    stored = _people(database)
    assert stored["UZW"][0] == "Zoe"
    assert stored["UFILL"][0] == "Fi"
