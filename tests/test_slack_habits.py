"""The habits people expect from a Slack Q&A bot (issue 9), driven through the fake Slack with
requests signed as Slack signs them: answering by replying, follow-ups both ways, closing and
connecting from a relayed answer, and asking from any message."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bots import messages, shortcuts
from router.storage.schema import Answer, Question
from tests import slack_signing
from tests.slack_harness import SlackHarness, answer_as, buttons, harness, relayed, text_of
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]


def _questions(h: SlackHarness) -> int:
    with h.bot.transaction() as session:
        return int(session.scalar(select(func.count(Question.id))) or 0)


# --- habits: answering by replying in the ask's thread -------------------------------------------


def test_a_reply_in_the_ask_dm_thread_is_an_answer_relayed_to_the_asker(
    harness: SlackHarness,
) -> None:
    h = harness
    h.slash("which hops for a hazy IPA?", user="UANA")
    dm = next(
        c.params for c in h.fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "DUBO"
    )
    assert "Reply in this thread to answer" in text_of(dm)
    h.settle()
    ts = next(m["ts"] for m in h.fake.messages("DUBO"))
    reply = {
        "type": "message",
        "channel_type": "im",
        "channel": "DUBO",
        "user": "UBO",
        "text": "Citra and Mosaic, dry hopped late.",
        "ts": "1800000000.000200",
        "thread_ts": ts,
    }
    assert h.event(reply, event_id="EvReply").status_code == 200
    assert h.event(reply, event_id="EvReply", retry=1).status_code == 200  # Slack's retry
    relay, _ = relayed(h)
    assert relay["channel"] == "DUANA" and "Citra and Mosaic" in text_of(relay)
    updated = next(
        u.params for u in h.fake.wait_for("chat.update") if u.params["channel"] == "DUBO"
    )
    assert updated["channel"] == "DUBO" and updated["ts"] == ts
    assert "You answered" in text_of(updated) and not buttons(updated)
    h.settle()
    with h.bot.transaction() as session:
        assert session.scalar(select(func.count(Answer.id))) == 1
    # a reply by someone else, or outside an ask's thread, answers nothing
    other = {**reply, "user": "UCY", "channel": "DUCY", "thread_ts": "1.0"}
    h.event(other, event_id="EvOther")
    h.event({"type": "app_home_opened", "user": "UCY", "tab": "home"}, event_id="EvCtl")
    h.fake.wait_for("views.publish")
    with h.bot.transaction() as session:
        assert session.scalar(select(func.count(Answer.id))) == 1


# --- habits: close from the relayed answer, connect with who answered ---------------------------


def _answered_by_bo(h: SlackHarness) -> tuple[dict[str, Any], str]:
    """Ana asks, Bo answers: the relayed answer's message and its ts in Ana's DM."""
    h.slash("which hops for a hazy IPA?", user="UANA")
    dm = next(
        c.params for c in h.fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "DUBO"
    )
    h.settle()
    answer_as(h, "UBO", dm, "Citra and Mosaic.")
    relay, relay_ts = relayed(h)
    h.settle()
    return relay, relay_ts


def test_the_asker_closes_from_the_answer_and_the_others_asks_say_answered_thanks(
    harness: SlackHarness,
) -> None:
    h = harness
    relay, relay_ts = _answered_by_bo(h)
    updates_before = h.fake.count("chat.update")
    h.click(
        messages.CLOSE, buttons(relay)[messages.CLOSE], user="UANA", channel="DUANA", ts=relay_ts
    )
    updates = h.fake.wait_for("chat.update", updates_before + 4)  # with the receipt twice
    mine = next(u.params for u in updates if u.params["ts"] == relay_ts)
    assert "You closed the question" in text_of(mine) and messages.CLOSE not in buttons(mine)
    cy = next(u.params for u in updates if u.params["channel"] == "DUCY")
    assert "Answered, thanks" in text_of(cy) and not buttons(cy)
    with h.bot.transaction() as session:
        assert session.scalars(select(Question.status)).one() == "closed"


def test_connect_us_opens_a_group_dm_of_the_asker_and_who_answered(harness: SlackHarness) -> None:
    h = harness
    relay, relay_ts = _answered_by_bo(h)
    h.click(
        messages.CONNECT,
        buttons(relay)[messages.CONNECT],
        user="UANA",
        channel="DUANA",
        ts=relay_ts,
    )
    intro = next(
        c.params
        for c in h.fake.wait_for("chat.postMessage", 5)
        if str(c.params["channel"]).startswith("G")
    )
    opened = h.fake.calls("conversations.open")
    assert any(c.params.get("users") == "UANA,UBO" for c in opened)
    assert "<@UANA>" in text_of(intro) and "<@UBO>" in text_of(intro)
    assert "which hops for a hazy IPA?" in text_of(intro)


def test_follow_ups_in_the_threads_are_relayed_both_ways(harness: SlackHarness) -> None:
    h = harness
    _, relay_ts = _answered_by_bo(h)
    ask_ts = next(m["ts"] for m in h.fake.messages("DUBO"))
    h.settle()
    posted = h.fake.count("chat.postMessage")

    def reply(user: str, channel: str, parent: str, text: str, event_id: str) -> None:
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": f"1800000000.{event_id[-3:]}",
            "thread_ts": parent,
        }
        assert h.event(event, event_id=event_id).status_code == 200

    reply("UANA", "DUANA", relay_ts, "Late or in the whirlpool?", "EvF001")
    to_bo = h.fake.wait_for("chat.postMessage", posted + 1)[-1].params
    assert to_bo["channel"] == "DUBO" and to_bo["thread_ts"] == ask_ts
    assert "Late or in the whirlpool?" in text_of(to_bo) and "Ana" in text_of(to_bo)
    blocks = to_bo["blocks"]
    header = (json.loads(blocks) if isinstance(blocks, str) else blocks)[0]["text"]["text"]
    said, quoted = header.split("\n", 1)  # Slack quotes only a line that starts with ">"
    assert said.endswith("follows up on:") and quoted.startswith("> ")

    reply("UBO", "DUBO", ask_ts, "Day 3 of fermentation.", "EvF002")
    to_ana = h.fake.wait_for("chat.postMessage", posted + 2)[-1].params
    assert to_ana["channel"] == "DUANA" and to_ana["thread_ts"] == relay_ts
    assert "Day 3 of fermentation." in text_of(to_ana)
    with h.bot.transaction() as session:
        assert session.scalar(select(func.count(Answer.id))) == 1  # follow-ups are not answers


# --- habits: ask from any message ---------------------------------------------------------------


def _shortcut(h: SlackHarness, *, invoker: str, author: str, text: str) -> None:
    payload = {
        "type": "message_action",
        "callback_id": shortcuts.SHORTCUT,
        "team": {"id": "T0FAKE", "domain": "fake"},
        "user": {"id": invoker, "team_id": "T0FAKE"},
        "channel": {"id": "C0GENERAL", "name": "general"},
        "message": {"type": "message", "user": author, "text": text, "ts": "1700000000.000900"},
        "trigger_id": "trig-shortcut",
        "response_url": h.fake.response_url("shortcut"),
        "message_ts": "1700000000.000900",
    }
    assert h.post(urlencode({"payload": json.dumps(payload)})).status_code == 200


def test_a_message_shortcut_asks_only_once_its_author_consents(harness: SlackHarness) -> None:
    h = harness
    _shortcut(h, invoker="UDEE", author="UANA", text="Which hops for a hazy IPA?")
    (confirm,) = h.fake.wait_for("chat.postEphemeral")
    assert confirm.params["user"] == "UANA" and confirm.params["channel"] == "C0GENERAL"
    assert "<@UDEE> suggested" in text_of(confirm.params)
    told = h.fake.wait_for("response_url")[0]
    assert "whether to ask it" in text_of(told.params)
    assert _questions(h) == 0  # nothing is asked before the author says so
    value = buttons(confirm.params)[shortcuts.ASK_IT]
    h.post(
        slack_signing.block_action_body(
            action_id=shortcuts.ASK_IT,
            value=value,
            user_id="UANA",
            channel_id="C0GENERAL",
            message_ts="1700000000.000900",
            response_url=h.fake.response_url("consent"),
        )
    )
    h.fake.wait_for("chat.postMessage", 2)
    with h.bot.transaction() as session:
        question = session.scalars(select(Question)).one()
        assert (
            question.text == "Which hops for a hazy IPA?" and question.asker_id == h.people["UANA"]
        )
    receipt = h.fake.wait_for("response_url", 2)[-1]
    assert receipt.path.endswith("/consent") and "<@UBO>" in str(receipt.params["text"])


@pytest.mark.parametrize("odd", ["\x00", "\ud800"])
def test_a_follow_up_with_characters_no_database_stores_is_relayed_without_them(
    harness: SlackHarness, odd: str
) -> None:
    h = harness
    _, relay_ts = _answered_by_bo(h)
    ask_ts = next(m["ts"] for m in h.fake.messages("DUBO"))
    h.settle()
    posted = h.fake.count("chat.postMessage")
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "DUANA",
        "user": "UANA",
        "text": f"Late or{odd} in the whirlpool?",
        "ts": "1800000000.000300",
        "thread_ts": relay_ts,
    }
    assert h.event(event, event_id="EvOdd").status_code == 200
    to_bo = h.fake.wait_for("chat.postMessage", posted + 1)[-1].params
    assert to_bo["channel"] == "DUBO" and to_bo["thread_ts"] == ask_ts
    assert "Late or in the whirlpool?" in text_of(to_bo)


def _reply_to_the_ask(h: SlackHarness, text: str, *, event_id: str) -> dict[str, Any]:
    """Ana asks, Bo replies ``text`` (as Slack sends it) in the ask's thread: what Ana gets."""
    h.slash("which hops for a hazy IPA?", user="UANA")
    h.fake.wait_for("chat.postMessage", 2)
    h.settle()
    ts = next(m["ts"] for m in h.fake.messages("DUBO"))
    reply = {
        "type": "message",
        "channel_type": "im",
        "channel": "DUBO",
        "user": "UBO",
        "text": text,
        "ts": "1800000000.000200",
        "thread_ts": ts,
    }
    assert h.event(reply, event_id=event_id).status_code == 200
    relay, _ = relayed(h)
    return relay


def test_an_answer_replied_with_a_nul_is_taken_without_it(harness: SlackHarness) -> None:
    relay = _reply_to_the_ask(harness, "Citra\x00 and Mosaic.", event_id="EvNul")
    assert "Citra and Mosaic." in text_of(relay)


def test_an_answer_replied_in_the_thread_reaches_the_asker_as_typed_not_as_entities(
    harness: SlackHarness,
) -> None:
    # as Slack sends "Citra & Mosaic <3"
    relay = _reply_to_the_ask(harness, "Citra &amp; Mosaic &lt;3", event_id="EvAmp")
    assert "Citra &amp; Mosaic &lt;3" in text_of(relay) and "&amp;amp;" not in text_of(relay)
