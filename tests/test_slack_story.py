"""The whole story through the real bolt app and a fake Slack: /ask, the DMs, an answer through
the modal, the relay to the asker, Helpful on the ledger, and the weekly summary DM."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from sqlalchemy import func, select

from bots import messages
from router.ledger import favours as ledger
from router.storage.schema import Answer, Ask, Favour, OutboxMessage, Question
from tests.slack_harness import (
    GatedRouter,
    SlackHarness,
    buttons,
    dms,
    harness,
    is_receipt,
    relayed,
    text_of,
    updated,
)
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]

QUESTION = "which hops for a hazy IPA?"


def _ask(h: SlackHarness) -> list[dict[str, object]]:
    response = h.slash(QUESTION, user="UANA")
    assert response.status_code == 200
    return [call.params for call in h.fake.wait_for("chat.postMessage", 2)]


def test_slash_ask_acks_before_routing_then_tells_the_asker_who_was_asked_and_why(
    harness: SlackHarness,
) -> None:
    gated = GatedRouter(harness.services.router)
    harness.services.__dict__["router"] = gated
    response = harness.slash(QUESTION, user="UANA")
    assert response.status_code == 200
    assert response.json()["text"] == "Finding the right people to ask…"
    assert gated.entered.wait(10)  # routing had started and was still held when the ack came
    assert harness.fake.count("chat.postMessage") == 0
    gated.gate.set()
    (receipt,) = [c.params for c in harness.fake.wait_for("response_url")]
    assert receipt["response_type"] == "ephemeral"
    assert "<@UBO>" in receipt["text"] and "<@UCY>" in receipt["text"]
    assert "answered" in receipt["text"]  # the reason: their matching answers
    dms = harness.fake.wait_for("chat.postMessage", 2)
    assert {dm.params["channel"] for dm in dms} == {"DUBO", "DUCY"}


def test_the_ask_dm_shows_question_asker_reasons_and_four_buttons(harness: SlackHarness) -> None:
    dm = next(p for p in _ask(harness) if p["channel"] == "DUBO")
    shown = text_of(dm)
    assert QUESTION in shown and "*Ana* asks" in shown and "Why you" in shown
    assert list(buttons(dm)) == [
        messages.ANSWER,
        messages.PASS,
        messages.DECLINE,
        messages.SNOOZE_ME,
    ]


def test_an_anonymous_question_does_not_name_the_asker(harness: SlackHarness) -> None:
    harness.slash("anon " + QUESTION, user="UANA")
    for dm in harness.fake.wait_for("chat.postMessage", 2):
        assert "Ana" not in text_of(dm.params)
        assert "anonymously" in text_of(dm.params)


def test_full_story_ask_answer_relay_helpful_ledger_and_weekly_summary(
    harness: SlackHarness,
) -> None:
    h = harness
    dm = next(p for p in _ask(h) if p["channel"] == "DUBO")
    ask_id = buttons(dm)[messages.ANSWER]
    ts = next(m["ts"] for m in h.fake.messages("DUBO"))

    # Bo clicks Answer: a modal opens for that ask
    h.click(messages.ANSWER, ask_id, user="UBO", channel="DUBO", ts=ts)
    (opened,) = h.fake.wait_for("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == messages.ANSWER_MODAL

    # Bo submits the answer: the modal closes, the DM updates in place, Ana gets the relay
    answer = "Citra and Mosaic, dry hopped on day 3."
    values = {
        messages.ANSWER_BLOCK: {
            messages.ANSWER_INPUT: {"type": "plain_text_input", "value": answer}
        }
    }
    submitted = h.submit(
        callback_id=messages.ANSWER_MODAL,
        private_metadata=view["private_metadata"],
        values=values,
        user="UBO",
    )
    assert submitted.status_code == 200 and submitted.content in (b"", b"{}")
    # another DM's update may arrive first: wait for this one's
    updated = h.fake.wait_for("chat.update", where=lambda u: u.params["channel"] == "DUBO")[0]
    assert updated.params["ts"] == ts
    assert "You answered" in text_of(updated.params) and not buttons(updated.params)
    relay, relay_ts = relayed(h)
    assert relay["channel"] == "DUANA" and answer in text_of(relay)
    assert list(buttons(relay)) == [
        messages.HELPFUL,
        messages.THANKS,
        messages.CLOSE,
        messages.CONNECT,
        messages.SHARE,
    ]
    h.settle()
    updates = h.fake.count("chat.update")
    posted = h.fake.count("chat.postMessage")

    # Ana clicks Helpful: the relay updates, the ledger has answer + helpful, Bo hears of it
    h.click(
        messages.HELPFUL,
        buttons(relay)[messages.HELPFUL],
        user="UANA",
        channel="DUANA",
        ts=relay_ts,
    )
    relay_update = h.fake.wait_for("chat.update", updates + 1)[-1].params
    assert relay_update["ts"] == relay_ts
    assert list(buttons(relay_update)) == [
        messages.THANKS,
        messages.CLOSE,
        messages.CONNECT,
        messages.SHARE,
    ]
    note = h.fake.wait_for("chat.postMessage", posted + 1)[-1].params
    assert note["channel"] == "DUBO" and "helpful" in text_of(note)
    with h.bot.transaction() as session:
        page = ledger.person_ledger(session, network_id=_network(h), person_id=h.people["UBO"])
        assert page.totals.given == 2.0 and page.totals.given_count == 1
        kinds = sorted(session.scalars(select(Favour.kind)))
    assert kinds == ["answer", "helpful"]

    # Monday after, 10:30 in Paris (18:30 in Tokyo, 04:30 in New York): Ana and Cy get their
    # weekly summary (Cy has an ask waiting), Bo not yet
    h.clock.at = h.clock.at + timedelta(days=7, minutes=30)
    h.bot.enqueue_summaries(h.clock.at)
    h.bot.courier.deliver()
    summaries = [
        c.params for c in h.fake.calls("chat.postMessage") if "Askaround week" in text_of(c.params)
    ]
    assert sorted(s["channel"] for s in summaries) == ["DUANA", "DUCY"]
    assert "Bo" in text_of(next(s for s in summaries if s["channel"] == "DUANA"))  # Ana owes Bo
    # later that day in New York: Bo's arrives; running the job again sends nobody twice
    h.clock.at = h.clock.at + timedelta(hours=7)
    for _ in range(2):
        h.bot.enqueue_summaries(h.clock.at)
        h.bot.courier.deliver()
    summaries = [
        c.params for c in h.fake.calls("chat.postMessage") if "Askaround week" in text_of(c.params)
    ]
    assert sorted(s["channel"] for s in summaries) == ["DUANA", "DUBO", "DUCY"]


def test_second_clicks_and_double_submits_do_nothing_twice(harness: SlackHarness) -> None:
    h = harness
    dms = _ask(h)
    bo = next(p for p in dms if p["channel"] == "DUBO")
    cy = next(p for p in dms if p["channel"] == "DUCY")
    cy_ts = h.fake.messages("DUCY")[0]["ts"]
    for _ in range(2):
        h.click(messages.PASS, buttons(cy)[messages.PASS], user="UCY", channel="DUCY", ts=cy_ts)
        h.bot.courier.deliver()
    h.fake.wait_for("chat.update")
    bo_ts = h.fake.messages("DUBO")[0]["ts"]
    values = {messages.ANSWER_BLOCK: {messages.ANSWER_INPUT: {"value": "Citra, lots of it."}}}
    metadata = f"{buttons(bo)[messages.ANSWER]}|DUBO:{bo_ts}"
    for second in range(2):  # Slack signs each delivery anew: a new timestamp, a new signature
        h.submit(
            callback_id=messages.ANSWER_MODAL,
            private_metadata=metadata,
            values=values,
            user="UBO",
            timestamp=int(time.time()) - second,
        )
    relay, relay_ts = relayed(h)
    for _ in range(2):
        h.click(
            messages.THANKS,
            buttons(relay)[messages.THANKS],
            user="UANA",
            channel="DUANA",
            ts=relay_ts,
        )
    deadline = time.monotonic() + 10
    while not any(u.params["ts"] == relay_ts for u in h.fake.calls("chat.update")):
        assert time.monotonic() < deadline, "the relayed answer never showed the thanks"
        time.sleep(0.02)
    h.settle()
    with h.bot.transaction() as session:
        assert session.scalar(select(func.count(Answer.id))) == 1
        assert sorted(session.scalars(select(Favour.kind))) == ["answer", "thanks"]
        statuses = sorted(session.scalars(select(Ask.status)))
        keys = list(session.scalars(select(OutboxMessage.idempotency_key)))
    assert statuses == ["answered", "passed"]
    assert len(keys) == len(set(keys)) == 5  # two asks, the receipt, one relay, one thanks note
    posted = [c.params["channel"] for c in h.fake.calls("chat.postMessage")]
    # asks, the receipt, relay, thanks note
    assert sorted(posted) == ["DUANA", "DUANA", "DUBO", "DUBO", "DUCY"]
    receipt = next(m["ts"] for m in h.fake.messages("DUANA") if is_receipt(m))
    updates = [u for u in h.fake.calls("chat.update") if u.params["ts"] != receipt]
    assert len(updates) == 3  # Cy's pass, Bo's answer, Ana's thanks: once each


def test_a_closed_question_updates_the_waiting_ask_dm_in_place(harness: SlackHarness) -> None:
    from router.lifecycle import questions

    h = harness
    _ask(h)
    h.settle()
    with h.bot.transaction() as session:
        question_id = session.scalars(select(Question.id)).one()
        questions.close_question(
            session,
            network_id=_network(h),
            question_id=question_id,
            person_id=h.people["UANA"],
            now=h.clock.at,
        )
    h.bot.courier.deliver()
    updates = [u for u in h.fake.calls("chat.update") if u.params["channel"] != "DUANA"]
    assert sorted(u.params["channel"] for u in updates) == ["DUBO", "DUCY"]
    assert all("No answer needed" in text_of(u.params) for u in updates)
    assert len(dms(h)) == 2  # no new DM, just the asks (and the asker's receipt)
    receipt = next(u for u in h.fake.calls("chat.update") if u.params["channel"] == "DUANA")
    assert "Closed." in text_of(receipt.params)  # the receipt shows it


def _network(h: SlackHarness) -> int:
    from router.storage.schema import Person

    with h.bot.transaction() as session:
        person = session.get(Person, h.people["UANA"])
        assert person is not None
        return person.network_id


def test_escalation_and_expiry_reach_the_asker_threaded_under_one_message(
    harness: SlackHarness,
) -> None:
    h = harness
    _ask(h)
    h.settle()
    h.clock.at = h.clock.at + timedelta(hours=25)  # nobody answered within a day
    report = h.bot.tick(h.clock.at)
    assert report.escalated  # type: ignore[attr-defined]
    h.bot.courier.deliver()
    h.clock.at = h.clock.at + timedelta(days=7)  # past the question's time to live
    h.bot.tick(h.clock.at)
    h.bot.courier.deliver()
    to_ana = [m for m in h.fake.messages("DUANA") if not is_receipt(m)]
    assert len(to_ana) == 2
    root, expired = to_ana
    assert "asked more people" in root["text"] and root["thread_ts"] is None
    assert "expired" in expired["text"] and expired["thread_ts"] == root["ts"]


def test_the_ask_dm_shows_the_favours_between_the_asked_person_and_the_asker(
    harness: SlackHarness,
) -> None:
    from router.ledger.favours import record_favour

    h = harness
    with h.bot.transaction() as session:
        record_favour(
            session,
            network_id=_network(h),
            giver_id=h.people["UANA"],
            taker_id=h.people["UBO"],
            kind="history",
            source_key="old-favour",
            now=h.clock.at,
        )
    dm = next(p for p in _ask(h) if p["channel"] == "DUBO")
    assert "Between you: Ana has answered you 1×, you have answered Ana 0×." in text_of(dm)
    assert "favour" not in text_of(dm).split("Why you")[1].split("Between you")[0]


def test_not_my_area_and_snooze_me_update_the_dm_and_the_core(harness: SlackHarness) -> None:
    from router.storage.schema import Person

    h = harness
    dms = {p["channel"]: p for p in _ask(h)}
    bo_ts = h.fake.messages("DUBO")[0]["ts"]
    cy_ts = h.fake.messages("DUCY")[0]["ts"]
    h.click(
        messages.DECLINE,
        buttons(dms["DUBO"])[messages.DECLINE],
        user="UBO",
        channel="DUBO",
        ts=bo_ts,
    )
    h.click(
        messages.SNOOZE_ME,
        buttons(dms["DUCY"])[messages.SNOOZE_ME],
        user="UCY",
        channel="DUCY",
        ts=cy_ts,
    )
    updates = updated(h, "DUBO", "DUCY")
    assert "Not your area" in updates["DUBO"] and "Snoozed" in updates["DUCY"]
    with h.bot.transaction() as session:
        statuses = dict(session.execute(select(Ask.person_id, Ask.status)).all())
        cy = session.get(Person, h.people["UCY"])
        assert cy is not None and cy.snoozed_until == h.clock.at + timedelta(days=7)
    assert statuses == {h.people["UBO"]: "declined", h.people["UCY"]: "passed"}


def test_not_my_area_weighs_the_matching_evidence_down_for_the_very_next_route(
    harness: SlackHarness,
) -> None:
    """A decline in Slack reaches this process's index at once, not at its next periodic check."""
    import numpy as np

    from router.storage.schema import Evidence

    h = harness
    indexes = h.services.router.indexes
    indexes.settings = indexes.settings.model_copy(update={"index_check_seconds": 3600.0})
    dm = next(p for p in _ask(h) if p["channel"] == "DUBO")
    h.click(
        messages.DECLINE,
        buttons(dm)[messages.DECLINE],
        user="UBO",
        channel="DUBO",
        ts=h.fake.messages("DUBO")[0]["ts"],
    )
    assert "Not your area" in updated(h, "DUBO")["DUBO"]
    with h.bot.transaction() as session:
        stored = dict(
            session.execute(
                select(Evidence.id, Evidence.weight).where(Evidence.person_id == h.people["UBO"])
            ).all()
        )
        index = indexes.get(session, network_id=_network(h))
        ids = np.array(sorted(stored), dtype=np.int64)
        assert min(stored.values()) < 1.0  # the decline halved what matched
        assert index.evidence.weights(ids).tolist() == [stored[i] for i in ids.tolist()]


def test_someone_else_clicking_an_ask_changes_nothing(harness: SlackHarness) -> None:
    h = harness
    dm = next(p for p in _ask(h) if p["channel"] == "DUBO")
    ts = h.fake.messages("DUBO")[0]["ts"]
    h.click(messages.PASS, buttons(dm)[messages.PASS], user="UDEE", channel="DUBO", ts=ts)
    (reply,) = h.fake.wait_for("response_url", 2)[1:]
    assert "sent to someone else" in text_of(reply.params)
    with h.bot.transaction() as session:
        assert set(session.scalars(select(Ask.status))) == {"pending"}
    assert h.fake.count("chat.update") == 0


def test_asks_of_a_question_closed_while_slack_was_down_are_never_sent(
    harness: SlackHarness,
) -> None:
    from router.lifecycle import questions

    h = harness
    h.fake.fail("conversations.open", status=None, times=100)
    h.slash(QUESTION, user="UANA")
    h.fake.wait_for("response_url")
    h.idle()  # the asks were tried, failed, and wait for a retry
    with h.bot.transaction() as session:
        question_id = session.scalars(select(Question.id)).one()
        questions.close_question(
            session,
            network_id=_network(h),
            question_id=question_id,
            person_id=h.people["UANA"],
            now=h.clock.at,
        )
    h.fake.clear_failures()
    h.clock.at = h.clock.at + timedelta(minutes=10)
    h.bot.courier.deliver()
    h.settle()
    assert not dms(h) and h.fake.count("chat.update") == 0  # only the receipt (closed)
