"""Hostile requests at /slack/events: headers that are not Slack's format get 401, signed bodies
of a shape Slack never sends get 400, and a forged id in a button or form gets an answer in
words; never a 500 or a listener that dies without a reply."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import func, select

from bots import messages, workspace
from router.storage.schema import ExternalId, InboundRequest, Network, Person, Question
from tests.fake_slack import TEAM_ID
from tests.slack_harness import SlackHarness, harness, text_of
from tests.slack_signing import SECRET, slash_command_body
from tests.slack_world import fake_slack, member, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]

FORGED_IDS = ["99999999999999999999", "2147483648", "\u00b2"]  # "²".isdigit() is True


def _signed_with(timestamp: str, body: str) -> dict[str, str]:
    base = f"v0:{timestamp}:{body}".encode()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest(),
    }


@pytest.mark.parametrize("timestamp", ["", "abc", "1e10", "0x10", "9" * 400, "-1"])
def test_a_timestamp_that_is_not_unix_seconds_gets_401(
    harness: SlackHarness, timestamp: str
) -> None:
    body = slash_command_body("hops?", user_id="UANA", response_url=harness.fake.response_url())
    response = harness.client.post(
        "/slack/events", content=body.encode(), headers=_signed_with(timestamp, body)
    )
    assert response.status_code == 401, response.text


def test_a_signature_with_non_ascii_characters_gets_401(harness: SlackHarness) -> None:
    body = slash_command_body("hops?", user_id="UANA", response_url=harness.fake.response_url())
    headers: Any = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(int(__import__("time").time())),
        "X-Slack-Signature": "v0=\u00e9".encode(),
    }
    response = harness.client.post("/slack/events", content=body.encode(), headers=headers)
    assert response.status_code == 401, response.text


def _event(event: object) -> str:
    return json.dumps({"type": "event_callback", "team_id": "T0FAKE", "event": event})


def _payload(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps({"team": {"id": "T0FAKE"}, **payload})})


def _click_with(**fields: object) -> str:
    """A click on Pass with ``fields`` replaced (None: left out) in Slack's payload."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "UANA"},
        "trigger_id": "trig-1",
        "container": {"type": "message", "channel_id": "DUANA", "message_ts": "1.1"},
        "channel": {"id": "DUANA"},
        "actions": [{"action_id": messages.PASS, "value": "1"}],
    }
    payload.update(fields)
    return _payload({key: value for key, value in payload.items() if value is not None})


def _view_with_state(state: object) -> str:
    """An answer form submitted with ``state`` where Slack puts ``{"values": {...}}``."""
    view = {"id": "V1", "type": "modal", "callback_id": messages.ANSWER_MODAL, "state": state}
    return _payload({"type": "view_submission", "user": {"id": "UBO"}, "view": view})


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_event("message"), "application/json"),
        (_event(None), "application/json"),
        (_payload({"type": "block_actions", "user": {"id": "UANA"}, "actions": []}), "form"),
        (_payload({"type": "block_actions", "user": {"id": "UANA"}, "actions": ["x"]}), "form"),
        (_payload({"type": "block_actions", "user": {"id": "UANA"}, "actions": "x"}), "form"),
        (_payload({"type": "block_actions", "user": "UANA", "actions": [{}]}), "form"),
        (_payload({"type": "block_actions", "user": {"id": "UANA"}, "actions": [{}]}), "form"),
        (_payload({"type": "view_submission", "user": {"id": "UANA"}, "view": None}), "form"),
        (
            _payload({"type": "view_submission", "user": {"id": "UANA"}, "view": {"id": "V1"}}),
            "form",
        ),
        (_click_with(trigger_id=None), "form"),
        (_click_with(container="DUANA"), "form"),
        (_click_with(channel=["DUANA"]), "form"),
        (_view_with_state("submitted"), "form"),
        (_view_with_state({"values": ["answer"]}), "form"),
        (_view_with_state({"values": {messages.ANSWER_BLOCK: "Citra"}}), "form"),
        (_view_with_state({"values": {messages.ANSWER_BLOCK: {messages.ANSWER_INPUT: 1}}}), "form"),
        ("[" * 100_000 + "]" * 100_000, "application/json"),  # deeper than json can recurse
        (urlencode({"payload": "[" * 100_000}), "form"),
    ],
)
def test_a_signed_payload_of_a_shape_slack_never_sends_gets_400(
    harness: SlackHarness, body: str, content_type: str
) -> None:
    kind = "application/json" if content_type != "form" else "application/x-www-form-urlencoded"
    response = harness.post(body, content_type=kind)
    assert response.status_code == 400, response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("value", FORGED_IDS)
@pytest.mark.parametrize("action", [messages.PASS, messages.HELPFUL])
def test_a_button_with_a_forged_id_gets_an_ephemeral_reply(
    harness: SlackHarness, action: str, value: str
) -> None:
    response = harness.click(action, value, user="UANA", channel="DUANA", ts="1.1", hook="forged")
    assert response.status_code == 200
    reply = harness.fake.wait_for("response_url")[0]
    assert reply.path.endswith("/forged")
    assert "does not belong to Askaround" in text_of(reply.params)


@pytest.mark.parametrize("ask_id", FORGED_IDS)
def test_an_answer_form_with_a_forged_ask_id_says_it_is_out_of_date(
    harness: SlackHarness, ask_id: str
) -> None:
    response = harness.submit(
        callback_id=messages.ANSWER_MODAL,
        private_metadata=f"{ask_id}|D1:1.0",
        values={messages.ANSWER_BLOCK: {messages.ANSWER_INPUT: {"value": "Citra"}}},
        user="UBO",
    )
    assert response.status_code == 200, response.text
    assert "out of date" in response.json()["errors"][messages.ANSWER_BLOCK]


def _stored(h: SlackHarness, user: str, timeout: float = 10.0) -> tuple[str, str | None]:
    """(name, email) of the person behind ``user`` once an event has stored them."""
    deadline = time.monotonic() + timeout
    while True:
        with h.bot.transaction() as session:
            network = workspace.find_team_network(session, team_id=TEAM_ID)
            assert network is not None
            person = workspace.find_member(session, network_id=network.id, user_id=user)
            if person is not None:
                return person.display_name, person.email
        assert time.monotonic() < deadline, f"{user} was never stored"
        time.sleep(0.02)


@pytest.mark.parametrize("kind", ["team_join", "user_change"])
def test_a_member_event_with_fields_beyond_their_columns_still_stores_the_member(
    harness: SlackHarness, kind: str
) -> None:
    odd = member(
        "UODD",
        "Odd",
        profile={
            "display_name": "Od\x00d " + "y" * 5_000,
            "real_name": "r" * 5_000,
            "title": "t" * 5_000,
            "email": "o" * 330 + "@example.com",
        },
    )
    response = harness.event({"type": kind, "user": odd}, event_id=f"Ev{kind}")
    assert response.status_code == 200
    name, email = _stored(harness, "UODD")
    assert name == ("Odd " + "y" * 5_000)[:200] and email is None


LONG_TEAM = "T" + "9" * 40  # longer than networks.slack_team_id holds
UNUSABLE_IDS = [LONG_TEAM, "T0\x00FAKE", "T0\ud800"]


def _refused_in_the_ack(harness: SlackHarness, response: Any) -> None:
    """Slack got an ephemeral "could not be understood" in the ack, and nothing was stored."""
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    assert "could not be understood" in text_of(reply)
    harness.bot.routing.shutdown(wait=True)
    _nothing_stored(harness)


def _nothing_stored(h: SlackHarness) -> None:
    with h.bot.transaction() as session:
        teams = set(session.scalars(select(Network.slack_team_id)))
        assert teams <= {TEAM_ID}, teams
        assert session.scalar(select(func.count()).select_from(InboundRequest)) == 0
        assert not any("\x00" in value for value in session.scalars(select(ExternalId.value)))


@pytest.mark.parametrize(
    ("team", "user", "channel", "trigger"),
    [
        (LONG_TEAM, "UANA", "C0GENERAL", "trig-1"),
        ("T0\x00FAKE", "UANA", "C0GENERAL", "trig-1"),
        ("T0FAKE", "UA\x00NA", "C0GENERAL", "trig-1"),
        ("T0FAKE", "U" + "A" * 300, "C0GENERAL", "trig-1"),
        ("T0FAKE", "UANA", "C0\x00GENERAL", "trig-1"),
        ("T0FAKE", "UANA", "C0GENERAL", "trig\x00-1"),
    ],
)
@pytest.mark.parametrize("text", ["which hops for a hazy IPA?", "who do I know at Acme?"])
def test_a_slash_command_with_an_unusable_id_gets_an_ephemeral_reply_and_writes_nothing(
    harness: SlackHarness, team: str, user: str, channel: str, trigger: str, text: str
) -> None:
    body = urlencode(
        {
            "team_id": team,
            "channel_id": channel,
            "user_id": user,
            "user_name": "ana",
            "command": "/ask",
            "text": text,
            "response_url": harness.fake.response_url("cmd"),
            "trigger_id": trigger,
        }
    )
    response = harness.post(body)
    _refused_in_the_ack(harness, response)


def _event_with(event_id: str, event: dict[str, Any], team: str = "T0FAKE") -> str:
    return json.dumps(
        {"type": "event_callback", "team_id": team, "event_id": event_id, "event": event}
    )


@pytest.mark.parametrize(
    "body",
    [
        _event_with("Ev1", {"type": "app_home_opened", "user": "UANA", "tab": "home"}, LONG_TEAM),
        _event_with("Ev\x001", {"type": "app_home_opened", "user": "UANA", "tab": "home"}),
        _event_with("Ev1", {"type": "app_home_opened", "user": "UA\x00NA", "tab": "home"}),
        _event_with("Ev1", {"type": "team_join", "user": member("UA\x00NA", "Odd")}),
        _event_with(
            "Ev1",
            {"type": "message", "user": "UANA", "channel": "D\x001", "text": "hi", "ts": "1.1"},
        ),
        _payload(
            {
                "type": "block_actions",
                "team": {"id": LONG_TEAM},
                "user": {"id": "UANA", "team_id": LONG_TEAM},
                "actions": [{"action_id": messages.PASS, "value": "1"}],
            }
        ),
        _payload(
            {
                "type": "block_actions",
                "user": {"id": "UANA"},
                "channel": {"id": "D\x00ANA"},
                "actions": [{"action_id": messages.PASS, "value": "1"}],
            }
        ),
        _payload(
            {
                "type": "view_submission",
                "user": {"id": "UB\x00O"},
                "view": {"id": "V1", "type": "modal", "callback_id": messages.ANSWER_MODAL},
            }
        ),
    ],
)
def test_an_event_or_payload_with_an_unusable_id_gets_400_and_writes_nothing(
    harness: SlackHarness, body: str
) -> None:
    kind = "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
    response = harness.post(body, content_type=kind)
    assert response.status_code == 400, response.text
    assert "Traceback" not in response.text
    _nothing_stored(harness)


@pytest.mark.parametrize("user", [None, ""])
def test_a_home_tab_event_without_a_member_stores_nobody(
    harness: SlackHarness, user: str | None
) -> None:
    event: dict[str, Any] = {"type": "app_home_opened", "tab": "home"}
    if user is not None:
        event["user"] = user
    with harness.bot.transaction() as session:
        before = session.scalar(select(func.count(Person.id)))
    response = harness.event(event, event_id="EvNobody")
    assert response.status_code == 200, response.text
    harness.bot.listeners.shutdown(wait=True)  # the event's listener has run
    with harness.bot.transaction() as session:
        assert session.scalar(select(func.count(Person.id))) == before
    assert harness.fake.calls("views.publish") == []


@pytest.mark.parametrize("missing", [("user_id",), ("trigger_id", "response_url")])
def test_a_slash_command_without_its_member_or_trigger_is_refused_in_the_ack(
    harness: SlackHarness, missing: tuple[str, ...]
) -> None:
    fields = dict(
        parse_qsl(
            slash_command_body(
                "which hops for a hazy IPA?",
                user_id="UANA",
                response_url=harness.fake.response_url("cmd"),
            )
        )
    )
    response = harness.post(urlencode({k: v for k, v in fields.items() if k not in missing}))
    _refused_in_the_ack(harness, response)


def test_ampersands_and_angle_brackets_reach_people_as_typed_not_as_entities(
    harness: SlackHarness,
) -> None:
    """Slack sends '/ask R&D <3 hops for a hazy IPA?' as 'R&amp;D &lt;3 ...': the people
    asked must read what was typed (one level of escaping), and it is stored as typed."""
    harness.slash("which R&amp;D &lt;3 hops for a hazy IPA?", user="UANA")
    harness.fake.wait_for("chat.postMessage", 2)
    with harness.bot.transaction() as session:
        assert session.scalars(select(Question.text)).one() == "which R&D <3 hops for a hazy IPA?"
    shown = text_of(next(c.params for c in harness.fake.calls("chat.postMessage")))
    assert "R&amp;D &lt;3 hops" in shown and "&amp;amp;" not in shown
