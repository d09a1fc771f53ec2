"""The asker's persistent receipt (issue 9): a DM with the question's status, posted when they
ask and updated in place (chat.update) as people answer, pass, are added and the question closes.
Driven through the fake Slack with signed requests."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from bots import messages
from tests.slack_harness import SlackHarness, answer_as, buttons, harness, is_receipt, text_of
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]


def _receipt_ts(h: SlackHarness) -> str:
    deadline = time.monotonic() + 10
    while True:
        found = [m["ts"] for m in h.fake.messages("DUANA") if is_receipt(m)]
        if found:
            (ts,) = found
            return ts
        assert time.monotonic() < deadline, "no receipt DM reached the asker"
        time.sleep(0.02)


def _receipt_shows(h: SlackHarness, *texts: str) -> str:
    """Wait until the receipt (as last posted or updated) shows every one of ``texts``."""
    ts = _receipt_ts(h)
    deadline = time.monotonic() + 10
    while True:
        shown = next(text_of(m) for m in h.fake.messages("DUANA") if m["ts"] == ts)
        if all(t in shown for t in texts):
            return shown
        assert time.monotonic() < deadline, f"the receipt never showed {texts}: {shown}"
        time.sleep(0.02)


def _asks(h: SlackHarness) -> dict[str, dict[str, Any]]:
    h.slash("which hops for a hazy IPA?", user="UANA")
    return {
        c.params["channel"]: c.params
        for c in h.fake.wait_for("chat.postMessage", 2)
        if c.params["channel"] in ("DUBO", "DUCY")
    }


def test_the_asker_gets_a_receipt_dm_updated_as_people_pass_answer_and_it_closes(
    harness: SlackHarness,
) -> None:
    h = harness
    asks = _asks(h)
    h.settle()
    (posted,) = [c.params for c in h.fake.calls("chat.postMessage") if is_receipt(c.params)]
    assert posted["channel"] == "DUANA" and not posted.get("thread_ts")
    first = text_of(posted)
    assert "which hops for a hazy IPA?" in first and "Open" in first
    assert "<@UBO>: waiting" in first and "<@UCY>: waiting" in first and "0 answers" in first

    cy_ts = h.fake.messages("DUCY")[0]["ts"]
    h.click(
        messages.PASS, buttons(asks["DUCY"])[messages.PASS], user="UCY", channel="DUCY", ts=cy_ts
    )
    _receipt_shows(h, "<@UCY>: passed", "<@UBO>: waiting")

    answer_as(h, "UBO", asks["DUBO"], "Citra and Mosaic.")
    shown = _receipt_shows(h, "<@UBO>: answered", "1 answer so far", "Answered")
    assert "<@UCY>: passed" in shown
    assert all(
        u.params["channel"] == "DUANA"
        for u in h.fake.calls("chat.update")
        if u.params["ts"] == _receipt_ts(h)
    )

    h.settle()
    relay = next(
        c.params
        for c in h.fake.calls("chat.postMessage")
        if c.params["channel"] == "DUANA" and messages.CLOSE in buttons(c.params)
    )
    relay_ts = next(m["ts"] for m in h.fake.messages("DUANA") if messages.CLOSE in buttons(m))
    h.click(
        messages.CLOSE, buttons(relay)[messages.CLOSE], user="UANA", channel="DUANA", ts=relay_ts
    )
    _receipt_shows(h, "Closed.")
    receipts = [c for c in h.fake.calls("chat.postMessage") if is_receipt(c.params)]
    assert len(receipts) == 1  # one DM, updated in place


def test_the_receipt_shows_when_more_people_were_asked(harness: SlackHarness) -> None:
    h = harness
    _asks(h)
    h.settle()
    _receipt_shows(h, "0 answers so far", "more people are asked")
    h.clock.at = h.clock.at + timedelta(hours=25)  # nobody answered within a day
    assert h.bot.tick(h.clock.at).escalated  # type: ignore[attr-defined]
    h.bot.courier.deliver()
    _receipt_shows(h, "asked more people 1×")


def test_an_anonymous_askers_receipt_says_so(harness: SlackHarness) -> None:
    h = harness
    h.slash("anon which hops for a hazy IPA?", user="UANA")
    shown = _receipt_shows(h, "anonymously", "which hops for a hazy IPA?")
    assert "<@UBO>" in shown  # the asker sees whom they asked; the asked never see the asker


def test_the_asker_closes_the_question_from_the_receipt_and_it_shows_closed(
    harness: SlackHarness,
) -> None:
    h = harness
    _asks(h)
    h.settle()
    ts = _receipt_ts(h)
    (posted,) = [c.params for c in h.fake.calls("chat.postMessage") if is_receipt(c.params)]
    close = buttons(posted)[messages.CLOSE_FROM_RECEIPT]
    h.click(messages.CLOSE_FROM_RECEIPT, close, user="UBO", channel="DUANA", ts=ts)  # not theirs
    h.click(messages.CLOSE_FROM_RECEIPT, close, user="UANA", channel="DUANA", ts=ts)
    shown = _receipt_shows(h, "Closed.")
    assert "Open" not in shown
    closed = next(m for m in h.fake.messages("DUANA") if m["ts"] == ts)
    assert messages.CLOSE_FROM_RECEIPT not in buttons(closed)  # nothing left to close
    h.settle()
    for channel in ("DUBO", "DUCY"):  # the asks still waiting are withdrawn in place
        assert any(u.params["channel"] == channel for u in h.fake.calls("chat.update")), (
            f"the ask DM in {channel} was not updated"
        )
