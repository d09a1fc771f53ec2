"""Issue 9: what made the Slack bot untrustworthy, each reproduced against the fake Slack with
requests signed as Slack signs them."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bots import messages, shortcuts
from bots.inbox import SPOOL
from bots.runtime import SlackBot
from router.ledger import privacy
from router.ledger.fairness import fairness_policy
from router.network import people
from router.search.indexing import embed_pending
from router.storage.schema import Answer, Ask, InboundRequest, Question
from tests import slack_signing
from tests.conftest import PG_URL
from tests.slack_harness import SlackHarness, buttons, harness, text_of
from tests.slack_signing import slash_command_body
from tests.slack_world import fake_slack, network_id, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]


def _questions(h: SlackHarness) -> int:
    with h.bot.transaction() as session:
        return int(session.scalar(select(func.count(Question.id))) or 0)


def _control_ask(h: SlackHarness, text: str = "which yeast for a saison?") -> None:
    """A valid /ask after the one under test; once its DMs are out, the other's would be too."""
    before = h.fake.count("chat.postMessage")
    assert h.slash(text, user="UANA").status_code == 200
    h.fake.wait_for("chat.postMessage", before + 2)
    h.settle()


# --- 6: a question with no words --------------------------------------------------------------


def test_a_question_mark_alone_is_refused_in_the_ack_and_nobody_is_asked(
    harness: SlackHarness,
) -> None:
    for text in ("?", "\u200b?\u200b", "\u200b \u2060?? \ufeff"):
        response = harness.slash(text, user="UANA")
        assert response.status_code == 200
        assert "no words" in response.text
    _control_ask(harness)
    assert _questions(harness) == 1
    assert harness.fake.count("chat.postMessage") == 2


def test_zero_width_characters_are_removed_from_the_question_people_receive(
    harness: SlackHarness,
) -> None:
    harness.slash("which\u200b hops for a \u2060hazy IPA?\ufeff", user="UANA")
    posted = harness.fake.wait_for("chat.postMessage", 2)
    assert all("which hops for a hazy IPA?" in text_of(call.params) for call in posted)
    assert not any("\u200b" in text_of(call.params) for call in posted)


# --- 7 and 9: the receipt when nobody fits ------------------------------------------------------


def _receipts(h: SlackHarness) -> list[str]:
    return [text_of(call.params) for call in h.fake.calls("response_url")]


def test_when_nobody_fits_the_receipt_says_when_it_looks_again_and_each_reason_once(
    harness: SlackHarness,
) -> None:
    h = harness
    h.slash("which hops for a hazy IPA?", user="UANA")
    h.fake.wait_for("chat.postMessage", 2)
    h.slash("how to proof sourdough overnight?", user="UANA")
    h.fake.wait_for("response_url", 2)
    h.settle()
    h.slash("which hops for a hazy IPA, again?", user="UANA")
    receipt = h.fake.wait_for("response_url", 3)[-1]
    text = text_of(receipt.params)
    assert "Nothing was sent" not in text  # the question stays open: tick asks people later
    assert "look again" in text
    assert "resting: asked just now" in text and "1 hour" not in text
    assert str(receipt.params["text"]).count("resting") == 1
    assert "better matches were not asked: resting: asked just now" in text


# --- 5: malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("payload=not-json", "application/x-www-form-urlencoded"),
        ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    ],
)
def test_a_malformed_body_gets_400_without_a_traceback(
    harness: SlackHarness, body: str, content_type: str
) -> None:
    response = harness.post(body, content_type=content_type)
    assert response.status_code == 400
    assert "Traceback" not in response.text and "Error" not in response.text
    unsigned = harness.client.post(
        "/slack/events", content=body.encode(), headers={"Content-Type": content_type}
    )
    assert unsigned.status_code == 401


def test_a_signed_request_without_a_workspace_is_refused_plainly(harness: SlackHarness) -> None:
    body = slash_command_body(
        "which hops?", user_id="UANA", response_url=harness.fake.response_url(), team_id=""
    )
    response = harness.post(body)
    assert response.status_code == 400
    assert "names no workspace" in response.text
    assert "installation" not in response.text
    _control_ask(harness)
    assert _questions(harness) == 1


def test_an_answer_form_with_a_broken_private_metadata_says_so_in_words(
    harness: SlackHarness,
) -> None:
    response = harness.submit(
        callback_id=messages.ANSWER_MODAL,
        private_metadata="not-a-number|D1:1.0",
        values={messages.ANSWER_BLOCK: {messages.ANSWER_INPUT: {"value": "Citra"}}},
        user="UBO",
    )
    assert response.status_code == 200
    shown = response.json()["errors"][messages.ANSWER_BLOCK]
    assert "out of date" in shown and "invalid literal" not in shown


# --- 1: an anonymous asker stays anonymous -----------------------------------------------------


def _answer_as(h: SlackHarness, user: str, dm: dict[str, Any], answer: str) -> None:
    """``user`` presses Answer on their ask DM and submits ``answer`` in the modal."""
    channel = f"D{user}"
    ask_id = buttons(dm)[messages.ANSWER]
    ts = next(m["ts"] for m in h.fake.messages(channel) if buttons(m))
    before = h.fake.count("views.open")
    h.click(messages.ANSWER, ask_id, user=user, channel=channel, ts=ts)
    opened = h.fake.wait_for("views.open", before + 1)[-1]
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    response = h.submit(
        callback_id=messages.ANSWER_MODAL,
        private_metadata=view["private_metadata"],
        values={messages.ANSWER_BLOCK: {messages.ANSWER_INPUT: {"value": answer}}},
        user=user,
    )
    assert response.status_code == 200


def test_the_person_who_answered_an_anonymous_question_never_sees_who_asked(
    harness: SlackHarness,
) -> None:
    h = harness
    h.slash("anon which hops for a hazy IPA?", user="UANA")
    dm = next(
        c.params for c in h.fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "DUBO"
    )
    _answer_as(h, "UBO", dm, "Citra and Mosaic.")
    relay = h.fake.wait_for("chat.postMessage", 3)[-1].params
    assert relay["channel"] == "DUANA"
    h.click(
        messages.THANKS,
        buttons(relay)[messages.THANKS],
        user="UANA",
        channel="DUANA",
        ts=h.fake.messages("DUANA")[0]["ts"],
    )
    h.fake.wait_for("chat.postMessage", 4)  # Bo hears of the thanks
    h.settle()

    # Bo's /ask balance and App Home
    h.slash("balance", user="UBO", hook="balance")
    balance = next(
        c.params for c in h.fake.wait_for("response_url", 2) if c.path.endswith("/balance")
    )
    h.event({"type": "app_home_opened", "user": "UBO", "tab": "home"}, event_id="EvHome")
    home = h.fake.wait_for("views.publish")[0].params
    for shown in (text_of(balance), text_of(home)):
        assert "Ana" not in shown
        assert "someone who asked anonymously" in shown and "1.25" in shown

    # the ledger the CLI and the API show, and Ana's own side (she knows who answered her)
    with h.bot.transaction() as session:
        nid = _network(h)
        bo = privacy.visible_ledger(session, network_id=nid, person_id=h.people["UBO"])
        assert [(d.name, d.net) for d in bo.owed_by] == [(privacy.ANONYMOUS, 1.25)]
        pair = privacy.visible_pair_balance(
            session, network_id=nid, person_id=h.people["UBO"], other_id=h.people["UANA"]
        )
        assert (pair.gave, pair.gave_count) == (0.0, 0)
        ana = privacy.visible_ledger(session, network_id=nid, person_id=h.people["UANA"])
        assert [(d.name, d.net) for d in ana.owes] == [("Bo", 1.25)]

    # Bo's next question, which Ana knows about: she is not pointed out as owing him
    h.clock.at += timedelta(days=8)
    with h.bot.transaction() as session:
        people.add_evidence(
            session,
            network_id=_network(h),
            person_id=h.people["UANA"],
            kind="answer",
            text="Proof the sourdough in a warm spot, then the fridge overnight.",
            context="How to proof sourdough?",
            source="test",
            source_key="seed:ana",
            created_at=h.clock.at,
        )
        embed_pending(session, network_id=_network(h), embedder=h.services.embedder)
    h.services.router.indexes.invalidate(_network(h))
    route = h.services.router.route  # the reason the asker reads, straight from the policy
    with h.bot.transaction() as session:
        asked = route(
            session,
            network_id=_network(h),
            question="how to proof sourdough?",
            asker_id=h.people["UBO"],
            k=3,
            now=h.clock.at,
            policy=fairness_policy(h.bot.settings),
        )
    assert h.people["UANA"] in [c.person_id for c in asked.candidates]
    assert not any("owes you" in c.because() for c in asked.candidates)


def _network(h: SlackHarness) -> int:
    return network_id(h.services.database, h.clock.at)


# --- 2: two /ask at once do not overspend anyone's budget ----------------------------------------


class RacingRouter:
    """The real router, but each route waits (briefly) for the other's: two questions routed at
    the same moment, before either records its asks, unless something serialises them."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(2, timeout=1.0)

    def route(self, session: Any, **kwargs: Any) -> Any:
        route = self.inner.route(session, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait()  # serialised callers: the first waits out the timeout alone
        return route


def test_two_questions_at_once_ask_nobody_beyond_their_weekly_budget(
    harness: SlackHarness,
) -> None:
    h = harness
    h.services.settings.weekly_ask_budget = 1
    h.services.__dict__["router"] = RacingRouter(h.services.router)
    h.slash("which hops for a hazy IPA?", user="UANA", hook="ana")
    h.slash("which hops for a NEIPA?", user="UDEE", hook="dee")
    h.fake.wait_for("response_url", 2)
    h.settle()
    with h.bot.transaction() as session:
        asked = list(session.scalars(select(Ask.person_id)))
    assert asked and len(asked) == len(set(asked)), "someone was asked twice in one week"
    dms = [c.params["channel"] for c in h.fake.calls("chat.postMessage")]
    assert len(dms) == len(set(dms))


# --- 3, 4 and 9: what was acknowledged is done, once, even across a crash or a busy database ---


class DeadPool:
    """A routing pool in a process that dies right after the ack: the work never runs."""

    def __init__(self) -> None:
        self.dropped = 0

    def submit(self, *args: Any, **kwargs: Any) -> None:
        self.dropped += 1

    def shutdown(self, wait: bool = True) -> None:
        return None


def test_an_acknowledged_question_is_asked_after_the_process_dies_and_restarts(
    harness: SlackHarness,
) -> None:
    h = harness
    dead = DeadPool()
    h.bot.routing = dead  # type: ignore[assignment]
    response = h.slash("which hops for a hazy IPA?", user="UANA")
    assert response.status_code == 200 and "Finding the right people" in response.text
    assert dead.dropped == 1 and _questions(h) == 0  # the process "died" after the ack

    restarted = SlackBot(h.services, clock=h.clock, jobs=[])
    try:
        assert restarted.replay(h.clock.at) == 1
        assert restarted.replay(h.clock.at) == 0  # done once
        restarted.courier.deliver()
    finally:
        restarted.close()
    assert _questions(h) == 1
    receipt = h.fake.wait_for("response_url")[0]
    assert "<@UBO>" in str(receipt.params["text"])
    assert {c.params["channel"] for c in h.fake.calls("chat.postMessage")} == {"DUBO", "DUCY"}


def test_the_same_slash_command_sent_twice_makes_one_question(harness: SlackHarness) -> None:
    h = harness
    for _ in range(2):  # a client re-send: a new signature, the same trigger id
        body = slash_command_body(
            "which hops for a hazy IPA?",
            user_id="UANA",
            response_url=h.fake.response_url(),
            trigger_id="trig-same",
        )
        assert h.post(body).status_code == 200
    h.fake.wait_for("chat.postMessage", 2)
    h.settle()
    h.slash("which yeast for a saison?", user="UDEE")  # a control, with its own trigger id
    h.fake.wait_for("response_url", 2)
    assert _questions(h) == 2  # the one question, and the control
    with h.bot.transaction() as session:
        texts = list(session.scalars(select(Question.text)))
    assert sorted(texts) == ["which hops for a hazy IPA?", "which yeast for a saison?"]


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's single write lock is what an import holds")
def test_an_ask_is_acknowledged_while_an_import_holds_the_write_lock_and_asked_after(
    harness: SlackHarness, database_url: str
) -> None:
    h = harness
    importer = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=10)
    importer.execute("BEGIN IMMEDIATE")  # what `askaround import` holds while it writes
    try:
        response = h.slash("which hops for a hazy IPA?", user="UANA")
        assert response.status_code == 200 and "Finding the right people" in response.text
        spooled = list((h.bot.settings.data_dir / SPOOL).glob("*.json"))
        assert len(spooled) == 1  # recorded durably although the database was busy
    finally:
        importer.rollback()
        importer.close()
    h.fake.wait_for("chat.postMessage", 2)
    assert _questions(h) == 1
    assert not list((h.bot.settings.data_dir / SPOOL).glob("*.json"))


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's single write lock is what an import holds")
def test_an_answer_submitted_while_an_import_holds_the_write_lock_closes_the_form_and_is_given(
    harness: SlackHarness, database_url: str
) -> None:
    h = harness
    h.slash("which hops for a hazy IPA?", user="UANA")
    dm = next(
        c.params for c in h.fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "DUBO"
    )
    h.settle()
    ts = next(m["ts"] for m in h.fake.messages("DUBO"))
    metadata = f"{buttons(dm)[messages.ANSWER]}|DUBO:{ts}"
    importer = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=10)
    importer.execute("BEGIN IMMEDIATE")
    try:
        response = h.submit(
            callback_id=messages.ANSWER_MODAL,
            private_metadata=metadata,
            values={messages.ANSWER_BLOCK: {messages.ANSWER_INPUT: {"value": "Citra."}}},
            user="UBO",
        )
        assert response.status_code == 200 and response.content in (b"", b"{}")
    finally:
        importer.rollback()
        importer.close()
    relay = h.fake.wait_for("chat.postMessage", 3)[-1].params
    assert relay["channel"] == "DUANA" and "Citra." in text_of(relay)
    updated = h.fake.wait_for("chat.update")[0].params
    assert updated["channel"] == "DUBO" and "You answered" in text_of(updated)


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
    relay = h.fake.wait_for("chat.postMessage", 3)[-1].params
    assert relay["channel"] == "DUANA" and "Citra and Mosaic" in text_of(relay)
    updated = h.fake.wait_for("chat.update")[0].params
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
    _answer_as(h, "UBO", dm, "Citra and Mosaic.")
    relay = h.fake.wait_for("chat.postMessage", 3)[-1].params
    h.settle()
    return relay, h.fake.messages("DUANA")[0]["ts"]


def test_the_asker_closes_from_the_answer_and_the_others_asks_say_answered_thanks(
    harness: SlackHarness,
) -> None:
    h = harness
    relay, relay_ts = _answered_by_bo(h)
    updates_before = h.fake.count("chat.update")
    h.click(
        messages.CLOSE, buttons(relay)[messages.CLOSE], user="UANA", channel="DUANA", ts=relay_ts
    )
    updates = h.fake.wait_for("chat.update", updates_before + 2)
    mine = next(u.params for u in updates if u.params["channel"] == "DUANA")
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
        for c in h.fake.wait_for("chat.postMessage", 4)
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


def test_carried_out_requests_are_forgotten_after_two_days_and_owed_ones_kept(
    harness: SlackHarness,
) -> None:
    h = harness
    h.slash("which hops for a hazy IPA?", user="UANA")
    h.fake.wait_for("response_url")
    h.bot.inbox.record(key="owed", kind="slack_command", payload={})
    h.bot.forget_seen(h.clock.at + timedelta(days=3))
    with h.bot.transaction() as session:
        assert list(session.scalars(select(InboundRequest.key))) == ["owed"]
