"""Issue 9: what made the Slack bot untrustworthy, each reproduced against the fake Slack with
requests signed as Slack signs them."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bots import messages
from bots.inbox import SPOOL
from bots.runtime import SlackBot
from router.ledger import privacy
from router.ledger.fairness import fairness_policy
from router.network import people
from router.search.backfill import embed_pending
from router.storage.schema import Ask, InboundRequest, Question
from tests.conftest import PG_URL
from tests.slack_harness import (
    SlackHarness,
    answer_as,
    buttons,
    dms,
    harness,
    relayed,
    text_of,
    updated,
)
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
    h.fake.wait_for("chat.postMessage", before + 3)  # two asks and the asker's receipt
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
    assert len(dms(harness)) == 2  # the control question's asks
    assert harness.fake.count("chat.postMessage") == 3  # and its one receipt


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
    assert "<!date^" in text and "&lt;!date" not in text  # shown as a date, in each reader's zone
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


def test_the_person_who_answered_an_anonymous_question_never_sees_who_asked(
    harness: SlackHarness,
) -> None:
    h = harness
    h.slash("anon which hops for a hazy IPA?", user="UANA")
    dm = next(
        c.params for c in h.fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "DUBO"
    )
    answer_as(h, "UBO", dm, "Citra and Mosaic.")
    relay, relay_ts = relayed(h)
    h.settle()
    posted = h.fake.count("chat.postMessage")
    h.click(
        messages.THANKS,
        buttons(relay)[messages.THANKS],
        user="UANA",
        channel="DUANA",
        ts=relay_ts,
    )
    h.fake.wait_for("chat.postMessage", posted + 1)  # Bo hears of the thanks
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
    asked_in = [p["channel"] for p in dms(h)]  # the receipts aside: one per question
    assert len(asked_in) == len(set(asked_in))


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
    assert {p["channel"] for p in dms(h)} == {"DUBO", "DUCY"}


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
    relay, _ = relayed(h)
    assert relay["channel"] == "DUANA" and "Citra." in text_of(relay)
    assert "You answered" in updated(h, "DUBO")["DUBO"]


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
