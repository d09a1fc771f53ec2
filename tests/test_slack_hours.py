"""Respecting people's hours (issue 9), driven through the fake Slack with signed requests and
the injected clock (Monday 2026-11-23 09:00 UTC: 04:00 for Bo in New York, 18:00 for Cy in
Tokyo): an ask outside someone's hours waits for their start without counting an attempt, and
one gentle reminder goes into the ask's thread before escalation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from router.storage.schema import OutboxMessage
from tests.slack_harness import SlackHarness, buttons, harness, text_of
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]


def _reply(h: SlackHarness, text: str, user: str) -> str:
    """What the member sees after /ask: the ack's text, or the ephemeral reply that follows."""
    before = h.fake.count("response_url")
    response = h.slash(text, user=user, hook=f"r{before}")
    assert response.status_code == 200
    if response.content:
        return text_of(response.json())
    return text_of(h.fake.wait_for("response_url", before + 1)[before].params)


def _deferred(h: SlackHarness, user: str) -> OutboxMessage:
    """The ask to ``user`` once the courier has put it off (its hours have not begun)."""
    deadline = time.monotonic() + 10
    while (row := _ask_row(h, user)) is None or row.last_error is None:
        assert time.monotonic() < deadline, "the ask was never tried"
        time.sleep(0.02)
    return row


def _ask_row(h: SlackHarness, user: str) -> OutboxMessage | None:
    with h.bot.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ask")).all()
        mine = [r for r in rows if r.recipient_id == h.people[user]]
        session.expunge_all()
        return mine[0] if mine else None


def test_an_ask_outside_the_persons_hours_waits_for_their_start_without_counting_an_attempt(
    harness: SlackHarness,
) -> None:
    h = harness
    assert "between 9-17 h (America/New_York time)" in _reply(h, "hours 9-17", user="UBO")
    h.slash("which hops for a hazy IPA?", user="UANA")
    waiting = _deferred(h, "UBO")
    h.fake.wait_for("chat.postMessage", 2)  # Cy's ask and Ana's receipt
    asked = {c.params["channel"] for c in h.fake.calls("chat.postMessage")}
    assert "DUCY" in asked and "DUBO" not in asked  # Cy has no hours; it is 04:00 for Bo
    assert waiting.status == "pending" and waiting.attempts == 0
    assert waiting.next_attempt_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in NY

    h.clock.at = datetime(2026, 11, 23, 13, 59, tzinfo=UTC)
    h.bot.courier.deliver()
    assert "DUBO" not in {c.params["channel"] for c in h.fake.calls("chat.postMessage")}
    h.clock.at = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    h.bot.courier.deliver()
    to_bo = [c.params for c in h.fake.calls("chat.postMessage") if c.params["channel"] == "DUBO"]
    assert len(to_bo) == 1 and "which hops for a hazy IPA?" in text_of(to_bo[0])
    sent = _ask_row(h, "UBO")
    assert sent is not None and sent.attempts == 1  # the wait was not a failed try


def test_the_workspace_default_hours_apply_to_people_without_their_own(
    harness: SlackHarness,
) -> None:
    h = harness
    h.bot.clients.settings.slack_working_hours = "9-18"  # ASKAROUND_SLACK_WORKING_HOURS=9-18
    assert "9-18 h (Asia/Tokyo time), the workspace's hours" in _reply(h, "hours", user="UCY")
    assert "between 0-24 h" in _reply(h, "hours 0-24", user="UBO")  # Bo: any time, his choice
    h.slash("which hops for a hazy IPA?", user="UANA")
    waiting = _deferred(h, "UCY")
    h.fake.wait_for("chat.postMessage", 2)  # Bo's ask and Ana's receipt
    asked = {c.params["channel"] for c in h.fake.calls("chat.postMessage")}
    assert "DUBO" in asked and "DUCY" not in asked  # 18:00 in Tokyo: after Cy's hours
    assert waiting.next_attempt_at == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert "the workspace's hours" in _reply(h, "hours default", user="UBO")


def test_hours_that_are_not_hours_are_refused(harness: SlackHarness) -> None:
    assert "look like 9-17" in _reply(harness, "hours nine to five", user="UBO")
    assert "not empty" in _reply(harness, "hours 9-9", user="UBO")


def test_a_waiting_ask_gets_one_gentle_reminder_in_its_thread_before_escalation(
    harness: SlackHarness,
) -> None:
    h = harness
    h.slash("which hops for a hazy IPA?", user="UANA")
    h.fake.wait_for("chat.postMessage", 2)
    h.settle()
    bo_ts = next(m["ts"] for m in h.fake.messages("DUBO") if buttons(m))
    h.clock.at = h.clock.at + timedelta(hours=10)  # escalation is a day away: no reminder yet
    h.bot.tick(h.clock.at)
    h.bot.courier.deliver()
    assert len(h.fake.messages("DUBO")) == 1
    h.clock.at = h.clock.at + timedelta(hours=11)  # three hours before escalation
    for _ in range(2):  # ticks run every minute: one reminder all the same
        h.bot.tick(h.clock.at)
        h.bot.courier.deliver()
    reminders = [m for m in h.fake.messages("DUBO") if m.get("thread_ts")]
    assert len(reminders) == 1 and reminders[0]["thread_ts"] == bo_ts
    assert "gentle reminder" in reminders[0]["text"]
