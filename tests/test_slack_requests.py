"""Slack's requests as Slack sends them: signatures, replays, retried events, every /ask sub-command,
the Home tab, and a Slack that cannot be reached."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from router.storage.schema import Evidence, OutboxMessage, Person, Question, SeenEvent
from tests.slack_harness import SlackHarness, harness, text_of
from tests.slack_signing import slash_command_body
from tests.slack_world import fake_slack, member, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]


def _questions(h: SlackHarness) -> int:
    with h.bot.transaction() as session:
        return int(session.scalar(select(func.count(Question.id))) or 0)


def _person(h: SlackHarness, user: str) -> Person:
    with h.bot.transaction() as session:
        person = session.get(Person, h.people[user])
        assert person is not None
        return person


# --- signatures -------------------------------------------------------------------------------


def _control_ask(harness: SlackHarness) -> None:
    """A valid /ask sent after a refused request; returns when its DMs are all out."""
    assert harness.fake.calls() == []
    body = slash_command_body(
        "which yeast for a saison?", user_id="UANA", response_url=harness.fake.response_url()
    )
    assert harness.post(body).status_code == 200
    harness.fake.wait_for("chat.postMessage", 2)
    harness.settle()


def test_a_bad_signature_gets_401_and_nothing_happens(harness: SlackHarness) -> None:
    body = slash_command_body(
        "which hops?", user_id="UANA", response_url=harness.fake.response_url()
    )
    response = harness.post(body, secret="not-the-secret")
    assert response.status_code == 401
    _control_ask(harness)  # queued after the bad one: once it is done, the bad one would be too
    assert _questions(harness) == 1


def test_a_stale_timestamp_gets_401_and_nothing_happens(harness: SlackHarness) -> None:
    body = slash_command_body(
        "which hops?", user_id="UANA", response_url=harness.fake.response_url()
    )
    response = harness.post(body, timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    _control_ask(harness)
    assert _questions(harness) == 1


def test_an_unsigned_request_gets_401(harness: SlackHarness) -> None:
    body = slash_command_body(
        "which hops?", user_id="UANA", response_url=harness.fake.response_url()
    )
    response = harness.client.post(
        "/slack/events",
        content=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401


def test_a_request_replayed_with_its_signature_does_nothing_twice(harness: SlackHarness) -> None:
    body = slash_command_body(
        "which hops for a hazy IPA?", user_id="UANA", response_url=harness.fake.response_url()
    )
    stamp = int(time.time())
    first = harness.post(body, timestamp=stamp)
    replay = harness.post(body, timestamp=stamp)
    assert first.status_code == 200 and replay.status_code == 200
    harness.fake.wait_for("chat.postMessage", 2)
    harness.settle()
    assert _questions(harness) == 1
    assert harness.fake.count("response_url") == 1
    assert harness.fake.count("chat.postMessage") == 3  # two asks and one receipt


# --- events -----------------------------------------------------------------------------------


def test_a_retried_event_is_handled_once(harness: SlackHarness) -> None:
    event = {"type": "app_home_opened", "user": "UANA", "tab": "home"}
    first = harness.event(event, event_id="Ev1")
    retry = harness.event(event, event_id="Ev1", retry=1, timestamp=int(time.time()) - 1)
    assert first.status_code == 200 and retry.status_code == 200
    harness.fake.wait_for("views.publish")
    control = harness.event(
        {"type": "app_home_opened", "user": "UBO", "tab": "home"}, event_id="Ev2"
    )
    assert control.status_code == 200
    harness.fake.wait_for("views.publish", 2)  # the control is done, so a second Ev1 would be too
    assert harness.fake.count("views.publish") == 2
    with harness.bot.transaction() as session:
        keys = list(
            session.scalars(select(SeenEvent.key).where(SeenEvent.key.like("slack-event:%")))
        )
    assert sorted(keys) == ["slack-event:T0FAKE:Ev1", "slack-event:T0FAKE:Ev2"]


def test_the_home_tab_shows_balance_waiting_asks_open_questions_interests_and_budget(
    harness: SlackHarness,
) -> None:
    h = harness
    h.slash("which hops for a hazy IPA?", user="UANA")
    h.fake.wait_for("chat.postMessage", 2)
    h.slash("interests add homebrewing", user="UBO", hook="interests")
    h.fake.wait_for("response_url", 2)
    h.event({"type": "app_home_opened", "user": "UBO", "tab": "home"}, event_id="EvB")
    h.event({"type": "app_home_opened", "user": "UANA", "tab": "home"}, event_id="EvA")
    published = {
        c.params["user_id"]: text_of(c.params) for c in h.fake.wait_for("views.publish", 2)
    }
    assert "which hops for a hazy IPA?" in published["UBO"]  # waiting for Bo
    assert "homebrewing" in published["UBO"] and "Budget: 3 questions a week" in published["UBO"]
    assert "Your open questions" in published["UANA"] and "2 asked" in published["UANA"]
    assert "Your ledger" in published["UANA"]


def test_a_member_change_updates_name_timezone_and_deactivation(harness: SlackHarness) -> None:
    changed = member("UBO", "Robert", tz="Europe/Lisbon", deleted=True)
    harness.event({"type": "user_change", "user": changed}, event_id="EvU")
    deadline = time.monotonic() + 5
    while _person(harness, "UBO").display_name != "Robert":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    bo = _person(harness, "UBO")
    assert (bo.timezone, bo.deactivated) == ("Europe/Lisbon", True)


def test_a_url_verification_challenge_is_answered(harness: SlackHarness) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
    response = harness.post(body, content_type="application/json")
    assert response.status_code == 200 and response.json()["challenge"] == "abc123"


# --- /ask sub-commands -------------------------------------------------------------------------


def _reply(h: SlackHarness, text: str, user: str = "UANA") -> str:
    """What the member sees after /ask: the ack's text, or the ephemeral reply that follows."""
    before = h.fake.count("response_url")
    response = h.slash(text, user=user, hook=f"r{before}")
    assert response.status_code == 200
    if response.content:
        return text_of(response.json())
    (reply,) = h.fake.wait_for("response_url", before + 1)[before:]
    assert reply.params["response_type"] == "ephemeral"
    return text_of(reply.params)


@pytest.mark.parametrize("text", ["", "help"])
def test_empty_text_and_help_show_the_usage_in_the_ack(harness: SlackHarness, text: str) -> None:
    assert "How to use /ask" in _reply(harness, text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("frobnicate", "don't know the sub-command"),
        ("snooze forever", "Say how long"),
        ("budget lots", "from 0 to 50"),
        ("why " * 10_100, "at most 40000"),
    ],
)
def test_mistakes_get_a_helpful_ephemeral_reply_in_the_ack(
    harness: SlackHarness, text: str, says: str
) -> None:
    assert says in _reply(harness, text)
    assert _questions(harness) == 0


def test_balance_lists_who_you_owe(harness: SlackHarness) -> None:
    assert "Nobody owes anybody yet" in _reply(harness, "balance")


def test_optout_and_optin(harness: SlackHarness) -> None:
    assert "nobody will be asked" in _reply(harness, "optout", user="UBO")
    assert _person(harness, "UBO").opted_out
    assert "Welcome back" in _reply(harness, "optin", user="UBO")
    assert not _person(harness, "UBO").opted_out


def test_snooze_7d_and_off(harness: SlackHarness) -> None:
    assert "Snoozed: no questions until" in _reply(harness, "snooze 7d", user="UBO")
    assert _person(harness, "UBO").snoozed_until == harness.clock.at + timedelta(days=7)
    assert "awake" in _reply(harness, "snooze off", user="UBO")
    assert _person(harness, "UBO").snoozed_until is None


def test_interests_add_list_remove(harness: SlackHarness) -> None:
    assert "Added 2" in _reply(harness, "interests add sourdough, kombucha", user="UBO")
    listed = _reply(harness, "interests list", user="UBO")
    assert "sourdough" in listed and "kombucha" in listed
    removed = _reply(harness, "interests remove Sourdough, opera", user="UBO")
    assert "Removed 1" in removed and "Not in your list: opera" in removed
    with harness.bot.transaction() as session:
        rows = session.execute(
            select(Evidence.text, Evidence.embedding_model).where(Evidence.kind == "interest")
        ).all()
    assert [(text, model) for text, model in rows] == [("kombucha", "hashing-test")]  # embedded


def test_budget_shows_sets_and_resets(harness: SlackHarness) -> None:
    assert "is 3 questions a week (the default)" in _reply(harness, "budget", user="UBO")
    assert "is now 1 question a week (your own)" in _reply(harness, "budget 1", user="UBO")
    assert _person(harness, "UBO").ask_budget == 1
    assert "(the default)" in _reply(harness, "budget default", user="UBO")
    assert _person(harness, "UBO").ask_budget is None


def test_an_opted_out_person_is_not_asked(harness: SlackHarness) -> None:
    _reply(harness, "optout", user="UBO")
    assert "Finding the right people" in _reply(harness, "which hops for a hazy IPA?")
    receipt = text_of(harness.fake.wait_for("response_url", 2)[-1].params)
    assert "<@UBO>" not in receipt


# --- Slack unreachable --------------------------------------------------------------------------


def test_the_app_serves_while_slack_is_down_and_delivers_when_it_is_back(
    harness: SlackHarness,
) -> None:
    h = harness
    for method in ("conversations.open", "response_url", "users.info"):
        h.fake.fail(method, status=None, times=50)
    response = h.slash("which hops for a hazy IPA?", user="UANA")
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while True:  # the question is stored, its asks wait in the outbox
        with h.bot.transaction() as session:
            pending = session.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")
            )
        if pending == 3:  # two asks and the asker's receipt
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert h.fake.count("chat.postMessage") == 0
    h.fake.clear_failures()
    h.clock.at = h.clock.at + timedelta(minutes=5)  # the retry is due
    h.bot.courier.deliver()
    delivered = sorted(c.params["channel"] for c in h.fake.calls("chat.postMessage"))
    assert delivered == ["DUANA", "DUBO", "DUCY"]  # the asks and the receipt


def test_slash_command_from_an_unknown_workspace_member_creates_them_from_users_info(
    harness: SlackHarness,
) -> None:
    harness.fake.add_member(member("UNEW", "Newt", tz="Australia/Sydney"))
    assert "Nobody owes anybody yet" in _reply(harness, "balance", user="UNEW")
    with harness.bot.transaction() as session:
        newt = session.scalar(select(Person).where(Person.display_name == "Newt"))
        assert newt is not None and newt.timezone == "Australia/Sydney"


def test_an_uninstall_event_is_acknowledged_not_404(harness: SlackHarness) -> None:
    response = harness.event({"type": "app_uninstalled"}, event_id="EvX")
    assert response.status_code == 200
