"""The Slack channel delivers outbox messages as DMs: through 429s, 500s and dropped connections,
nothing is lost and nothing is sent twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bots.channel import SlackChannel
from bots.clients import SlackClients
from router.delivery.outbox import RetryPolicy, deliver_due, enqueue
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import OutboxMessage
from tests.fake_slack import FakeSlack
from tests.slack_world import add_members, fake_slack, member, network_id, slack_settings

__all__ = ["fake_slack", "slack_settings"]

FAST = RetryPolicy(base_delay=timedelta(seconds=1), max_attempts=5)


def _channel(database: Database, settings: Settings) -> SlackChannel:
    return SlackChannel(database=database, clients=SlackClients(settings, backoff=0.01))


def _enqueue_ask(database: Database, now: datetime, person_id: int, key: str = "ask:1") -> None:
    nid = network_id(database, now)
    with database.transaction() as session:
        enqueue(
            session,
            network_id=nid,
            recipient_id=person_id,
            kind="ask",
            payload={
                "question_id": None,
                "question": "Which hop for a hazy IPA?",
                "asker": "Bo",
                "ask_id": 1,
                "because": 'answered "Citra or Mosaic?"',
                "reasons": [{"kind": "evidence", "text": 'answered "Citra or Mosaic?"'}],
            },
            idempotency_key=key,
            now=now,
        )


def _deliver(database: Database, channel: SlackChannel, now: datetime) -> dict[str, int]:
    return deliver_due(database, channel, now=now, worker_id="test", retry=FAST).as_dict()


def test_an_ask_becomes_one_dm_with_its_buttons(
    database: Database, slack_settings: Settings, fake_slack: FakeSlack, now: datetime
) -> None:
    ids = add_members(database, now, member("UANA", "Ana"))
    _enqueue_ask(database, now, ids["UANA"])
    report = _deliver(database, _channel(database, slack_settings), now)
    assert report["sent"] == 1
    (post,) = fake_slack.calls("chat.postMessage")
    assert post.params["channel"] == "DUANA"
    assert "Which hop for a hazy IPA?" in str(post.params["blocks"])
    buttons = [
        e["text"]["text"]
        for b in post.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == ["Answer", "Pass", "Not my area", "Snooze me"]
    assert post.params["metadata"]["event_payload"] == {"key": "ask:1"}


def test_a_429_is_retried_after_retry_after_and_sent_once(
    database: Database, slack_settings: Settings, fake_slack: FakeSlack, now: datetime
) -> None:
    ids = add_members(database, now, member("UANA", "Ana"))
    _enqueue_ask(database, now, ids["UANA"])
    fake_slack.fail("chat.postMessage", status=429, retry_after=1)
    report = _deliver(database, _channel(database, slack_settings), now)
    assert report["sent"] == 1
    attempts = fake_slack.attempts("chat.postMessage")
    assert [a.delivered for a in attempts] == [False, True]
    assert attempts[1].at - attempts[0].at >= 1.0  # waited as long as Slack asked
    assert len(fake_slack.messages("DUANA")) == 1


def test_a_500_is_retried_without_posting_twice(
    database: Database, slack_settings: Settings, fake_slack: FakeSlack, now: datetime
) -> None:
    ids = add_members(database, now, member("UANA", "Ana"))
    _enqueue_ask(database, now, ids["UANA"])
    fake_slack.fail("chat.postMessage", status=500)
    report = _deliver(database, _channel(database, slack_settings), now)
    assert report["sent"] == 1
    assert len(fake_slack.messages("DUANA")) == 1


@pytest.mark.parametrize(
    "after_effect", [False, True], ids=["before-slack-saw-it", "after-it-posted"]
)
def test_a_dropped_connection_loses_nothing_and_posts_once(
    database: Database,
    slack_settings: Settings,
    fake_slack: FakeSlack,
    now: datetime,
    after_effect: bool,
) -> None:
    ids = add_members(database, now, member("UANA", "Ana"))
    _enqueue_ask(database, now, ids["UANA"])
    fake_slack.fail("chat.postMessage", status=None, after_effect=after_effect)
    report = _deliver(database, _channel(database, slack_settings), now)
    assert report["sent"] == 1
    assert len(fake_slack.messages("DUANA")) == 1
    assert fake_slack.count("conversations.history") == 1  # it looked before posting again


def test_slack_down_for_long_leaves_the_message_for_a_later_pass(
    database: Database, slack_settings: Settings, fake_slack: FakeSlack, now: datetime
) -> None:
    ids = add_members(database, now, member("UANA", "Ana"))
    _enqueue_ask(database, now, ids["UANA"])
    channel = _channel(database, slack_settings)
    fake_slack.fail("conversations.open", status=500, times=3)
    first = _deliver(database, channel, now)
    assert first["retrying"] == 1 and fake_slack.count("chat.postMessage") == 0
    second = _deliver(database, channel, now + timedelta(minutes=1))
    assert second["sent"] == 1
    assert len(fake_slack.messages("DUANA")) == 1


def test_a_message_posted_before_a_crash_is_not_posted_again_on_the_next_attempt(
    database: Database, slack_settings: Settings, fake_slack: FakeSlack, now: datetime
) -> None:
    ids = add_members(database, now, member("UANA", "Ana"))
    _enqueue_ask(database, now, ids["UANA"])
    channel = _channel(database, slack_settings)
    with database.transaction() as session:
        row = session.scalars(select(OutboxMessage)).one()
        row.attempts = 1  # as if a worker claimed it, posted, and died before recording it
    client = channel.clients.poster(None)
    client.chat_postMessage(
        channel="DUANA",
        text="Which hop?",
        metadata={"event_type": "askaround_message", "event_payload": {"key": "ask:1"}},
    )
    report = _deliver(database, channel, now)
    assert report["sent"] == 1
    assert len(fake_slack.messages("DUANA")) == 1


def test_a_recipient_without_a_slack_id_is_skipped_not_retried_forever(
    database: Database, slack_settings: Settings, fake_slack: FakeSlack, now: datetime
) -> None:
    from router.network import people

    nid = network_id(database, now)
    with database.transaction() as session:
        person = people.ensure_person(
            session, network_id=nid, external_ids=["se:42"], display_name="Cy", now=now
        )
        pid = person.id
    _enqueue_ask(database, now, pid)
    report = _deliver(database, _channel(database, slack_settings), now)
    assert report["sent"] == 1
    assert fake_slack.count("chat.postMessage") == 0
