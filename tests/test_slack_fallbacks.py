"""People's text in a message's fallback ``text`` (what Slack puts in notifications) is escaped
like the blocks: a ``<!channel>`` or ``<@U…>`` in a question, an answer, a follow-up or a name
never becomes a live mention in any DM, update or ephemeral message the bot sends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bots.channel import SlackChannel
from bots.clients import SlackClients
from router.delivery.outbox import deliver_due, enqueue
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Person
from tests.fake_slack import FakeSlack
from tests.slack_harness import SlackHarness, answer_as, harness, relayed
from tests.slack_world import add_members, fake_slack, member, network_id, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]

LIVE = ("<!channel>", "<!here>", "<!everyone>", "<@UDEE>")
SENDING = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url")


def _live_fallbacks(fake: FakeSlack) -> list[str]:
    """The fallback texts Slack received that would notify someone (a live mention)."""
    texts = [str(c.params.get("text") or "") for m in SENDING for c in fake.calls(m)]
    return [t for t in texts if any(live in t for live in LIVE)]


def _rename(h: SlackHarness, user: str, name: str) -> None:
    with h.bot.transaction() as session:
        person = session.get(Person, h.people[user])
        assert person is not None
        person.display_name = name


def test_fallback_texts_of_asks_answers_updates_and_follow_ups_carry_no_live_mention(
    harness: SlackHarness,
) -> None:
    h = harness
    _rename(h, "UANA", "Ana <!here>")
    _rename(h, "UBO", "Bo <@UDEE>")
    h.slash("<!channel> which hops for a hazy IPA <@UDEE>?", user="UANA")
    dm = next(
        c.params for c in h.fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "DUBO"
    )
    assert "&lt;!channel&gt;" in dm["text"] and "&lt;!here&gt;" in dm["text"]
    h.settle()
    answer_as(h, "UBO", dm, "<!everyone> Citra & Mosaic, ask <@UDEE>")
    relay, relay_ts = relayed(h)
    assert "&lt;!everyone&gt;" in relay["text"] and "&lt;@UDEE&gt;" in relay["text"]
    h.fake.wait_for("chat.update", where=lambda u: u.params["channel"] == "DUBO")
    h.settle()
    posted = h.fake.count("chat.postMessage")
    follow_up = {
        "type": "message",
        "channel_type": "im",
        "channel": "DUANA",
        "user": "UANA",
        "text": "<!channel> late or in the whirlpool?",
        "ts": "1800000000.001",
        "thread_ts": relay_ts,
    }
    assert h.event(follow_up, event_id="EvF001").status_code == 200
    to_bo = h.fake.wait_for("chat.postMessage", posted + 1)[-1].params
    assert "late or in the whirlpool?" in to_bo["text"]
    assert _live_fallbacks(h.fake) == []


def test_fallback_texts_of_the_weekly_summary_and_other_news_carry_no_live_mention(
    database: Database, slack_settings: Settings, fake_slack: FakeSlack, now: datetime
) -> None:
    ids = add_members(database, now, member("UANA", "Ana"))
    payloads: list[tuple[str, dict[str, Any]]] = [
        ("summary", {"week": "2026-W47", "text": "Your week: Bo <!here> asked <@UDEE> hops?"}),
        ("news", {"text": "<!everyone> something happened"}),
    ]
    with database.transaction() as session:
        for kind, payload in payloads:
            enqueue(
                session,
                network_id=network_id(database, now),
                recipient_id=ids["UANA"],
                kind=kind,
                payload=payload,
                idempotency_key=f"test:{kind}",
                now=now,
            )
    channel = SlackChannel(database=database, clients=SlackClients(slack_settings, backoff=0.01))
    assert deliver_due(database, channel, now=now, worker_id="test").sent == 2
    texts = [str(c.params["text"]) for c in fake_slack.calls("chat.postMessage")]
    assert len(texts) == 2 and all("&lt;" in text for text in texts), texts
    assert _live_fallbacks(fake_slack) == []
