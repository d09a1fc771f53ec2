"""The weekly summary in Slack: Monday from 09:00 in each person's timezone, the week just ended,
once per person and week however many times and places the job runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bots.runtime import SlackBot
from router.ledger.favours import record_favour
from router.ledger.schedule import week_due
from tests.slack_harness import SlackHarness, harness, text_of
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)  # ISO week 2026-W49 starts


def test_a_person_is_due_from_nine_on_their_own_monday() -> None:
    before = "2026-W47"  # still the week before: W48's Monday morning has not come
    assert week_due(MONDAY + timedelta(hours=8, minutes=59), "Europe/London") == before
    assert week_due(MONDAY + timedelta(hours=9), "Europe/London") == "2026-W48"
    assert week_due(MONDAY + timedelta(hours=8), "Europe/Paris") == "2026-W48"  # 09:00 there
    assert week_due(MONDAY + timedelta(hours=13), "America/New_York") == before  # 08:00 there
    assert week_due(MONDAY + timedelta(hours=14), "America/New_York") == "2026-W48"
    assert week_due(MONDAY - timedelta(hours=5), "Pacific/Auckland") == before  # Mon 08:00 there
    assert week_due(MONDAY - timedelta(hours=4), "Pacific/Auckland") == "2026-W48"  # Mon 09:00
    assert week_due(MONDAY - timedelta(hours=2), "Asia/Tokyo") == before  # Mon 07:00 there
    assert week_due(MONDAY, "Asia/Tokyo") == "2026-W48"  # Mon 09:00 there
    assert week_due(MONDAY + timedelta(days=1, hours=10), "UTC") == "2026-W48"  # a missed Monday
    assert week_due(MONDAY + timedelta(days=6, hours=23), "UTC") == "2026-W48"  # Sunday night
    assert week_due(MONDAY + timedelta(hours=10), "Not/AZone") == "2026-W48"  # falls back to UTC


def test_two_machines_running_the_job_at_once_send_each_summary_once(
    harness: SlackHarness,
) -> None:
    h = harness
    network_id = _network(h)
    with h.bot.transaction() as session:
        record_favour(
            session,
            network_id=network_id,
            giver_id=h.people["UBO"],
            taker_id=h.people["UANA"],
            kind="history",
            source_key="past",
            now=h.clock.at,
        )
    monday_morning_everywhere = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
    h.clock.at = monday_morning_everywhere
    other = SlackBot(h.services, clock=h.clock, jobs=[])  # a second machine
    try:
        runs = [
            threading.Thread(
                target=lambda bot=bot: (bot.enqueue_summaries(h.clock.at), bot.courier.deliver())
            )
            for bot in (h.bot, other, h.bot, other)
        ]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
        h.bot.courier.deliver()
    finally:
        other.close()
    summaries = [
        c.params["channel"]
        for c in h.fake.calls("chat.postMessage")
        if "Askaround week 2026-W48" in text_of(c.params)
    ]
    assert sorted(summaries) == ["DUANA", "DUBO"]  # the two with a favour between them


def _network(h: SlackHarness) -> int:
    from router.storage.schema import Person

    with h.bot.transaction() as session:
        person = session.get(Person, h.people["UANA"])
        assert person is not None
        return person.network_id
