"""The outbox: stored with the state change, delivered with retries, never lost, never twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from router.delivery.channels import Deferred, LogChannel, OutboundMessage, WebhookChannel
from router.delivery.outbox import RetryPolicy, deliver_due, enqueue, outbox_counts
from router.errors import Unavailable
from router.network.people import ensure_network
from router.storage.database import Database
from router.storage.schema import OutboxMessage


class FlakyChannel:
    """Fails the first ``failures(key)`` tries of a message, then records its delivery."""

    name = "flaky"

    def __init__(self, failures: dict[str, int] | None = None, default: int = 0) -> None:
        self.failures = failures or {}
        self.default = default
        self.tries: Counter[str] = Counter()
        self.delivered: list[str] = []

    def send(self, message: OutboundMessage) -> dict[str, Any]:
        self.tries[message.idempotency_key] += 1
        limit = self.failures.get(message.idempotency_key, self.default)
        if self.tries[message.idempotency_key] <= limit:
            raise ConnectionError("channel down")
        self.delivered.append(message.idempotency_key)
        return {"ok": True}


class CrashAfterSend:
    """Delivers through a log, then dies before the worker can record it (like a killed process)."""

    name = "crashing"

    def __init__(self, log: LogChannel) -> None:
        self.log = log

    def send(self, message: OutboundMessage) -> dict[str, Any]:
        self.log.send(message)
        raise SystemExit("worker killed")


def _network(database: Database, now: datetime) -> int:
    with database.transaction() as session:
        return ensure_network(session, name="outbox", now=now).id


def _enqueue(database: Database, network_id: int, keys: list[str], now: datetime) -> None:
    with database.transaction() as session:
        for key in keys:
            enqueue(
                session,
                network_id=network_id,
                recipient_id=None,
                kind="test",
                payload={"text": key},
                idempotency_key=key,
                now=now,
            )


def test_enqueueing_the_same_key_twice_stores_one_message(
    database: Database, now: datetime
) -> None:
    network_id = _network(database, now)
    _enqueue(database, network_id, ["k1", "k1"], now)
    _enqueue(database, network_id, ["k1"], now + timedelta(minutes=1))
    with database.transaction() as session:
        assert session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_message_of_a_rolled_back_state_change_is_never_sent(
    database: Database, now: datetime
) -> None:
    network_id = _network(database, now)
    with pytest.raises(RuntimeError), database.transaction() as session:
        enqueue(
            session,
            network_id=network_id,
            recipient_id=None,
            kind="test",
            payload={},
            idempotency_key="doomed",
            now=now,
        )
        raise RuntimeError("the state change failed")
    channel = FlakyChannel()
    deliver_due(database, channel, now=now, worker_id="w")
    assert channel.delivered == []


def test_failing_channel_loses_nothing_and_sends_nothing_twice(
    database: Database, now: datetime
) -> None:
    network_id = _network(database, now)
    keys = [f"m{i}" for i in range(30)]
    _enqueue(database, network_id, keys, now)
    channel = FlakyChannel({key: i % 4 for i, key in enumerate(keys)})
    clock = now
    for _ in range(20):
        deliver_due(database, channel, now=clock, worker_id="w", batch=7)
        clock += timedelta(hours=1)
    assert sorted(channel.delivered) == sorted(keys)
    assert Counter(channel.delivered).most_common(1)[0][1] == 1
    with database.transaction() as session:
        assert outbox_counts(session) == {"pending": 0, "sent": 30, "dead": 0}


def test_failed_send_waits_for_its_backoff_before_the_retry(
    database: Database, now: datetime
) -> None:
    network_id = _network(database, now)
    _enqueue(database, network_id, ["late"], now)
    channel = FlakyChannel({"late": 1})
    retry = RetryPolicy(base_delay=timedelta(minutes=1))
    first = deliver_due(database, channel, now=now, worker_id="w", retry=retry)
    early = deliver_due(
        database, channel, now=now + timedelta(seconds=59), worker_id="w", retry=retry
    )
    due = deliver_due(database, channel, now=now + timedelta(minutes=1), worker_id="w", retry=retry)
    assert (first.retrying, early.claimed, due.sent) == (1, 0, 1)


def test_backoff_doubles_until_its_ceiling() -> None:
    retry = RetryPolicy(base_delay=timedelta(seconds=30), max_delay=timedelta(minutes=3))
    assert [retry.delay(n).total_seconds() for n in range(1, 6)] == [30, 60, 120, 180, 180]


def test_message_is_dead_after_its_last_attempt(database: Database, now: datetime) -> None:
    network_id = _network(database, now)
    _enqueue(database, network_id, ["hopeless"], now)
    channel = FlakyChannel(default=99)
    retry = RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=1))
    reports = [
        deliver_due(database, channel, now=now + timedelta(hours=i), worker_id="w", retry=retry)
        for i in range(5)
    ]
    assert [r.dead for r in reports] == [0, 0, 1, 0, 0]
    with database.transaction() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.status, row.attempts) == ("dead", 3)
        assert row.last_error is not None and "channel down" in row.last_error


def test_message_of_a_crashed_worker_is_retried_after_its_lease_and_delivered_once(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    network_id = _network(database, now)
    _enqueue(database, network_id, ["once"], now)
    path = tmp_path / "out.jsonl"
    with pytest.raises(SystemExit):
        deliver_due(database, CrashAfterSend(LogChannel(path)), now=now, worker_id="doomed")
    retry = RetryPolicy(lease=timedelta(minutes=5))
    during = deliver_due(database, LogChannel(path), now=now + timedelta(minutes=1), worker_id="b")
    after = deliver_due(
        database, LogChannel(path), now=now + timedelta(minutes=5), worker_id="b", retry=retry
    )
    assert (during.claimed, after.sent) == (0, 1)
    lines = path.read_text().splitlines()
    assert [json.loads(line)["idempotency_key"] for line in lines] == ["once"]


def test_a_message_that_kills_every_worker_goes_dead_and_stops_blocking_the_queue(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    network_id = _network(database, now)
    _enqueue(database, network_id, ["poison"], now)
    retry = RetryPolicy(lease=timedelta(minutes=5), max_attempts=3)
    path = tmp_path / "out.jsonl"
    at = now
    for _ in range(retry.max_attempts):
        with pytest.raises(SystemExit):
            deliver_due(
                database, CrashAfterSend(LogChannel(path)), now=at, worker_id="w", retry=retry
            )
        at += timedelta(minutes=6)
    _enqueue(database, network_id, ["after"], now)
    report = deliver_due(database, LogChannel(path), now=at, worker_id="w", retry=retry)
    assert report.sent == 1
    with database.transaction() as session:
        states = dict(
            session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.status))
            .tuples()
            .all()
        )
    assert states == {"poison": "dead", "after": "sent"}


def test_webhook_sends_json_with_the_idempotency_key_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200 if len(seen) > 1 else 503)

    channel = WebhookChannel(
        "https://hooks.example/askaround",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    message = OutboundMessage(
        id=1,
        network_id=1,
        recipient_id=2,
        kind="ask",
        payload={"q": 1},
        idempotency_key="ask:9",
        attempt=1,
    )
    with pytest.raises(Unavailable, match="503"):
        channel.send(message)
    assert channel.send(message) == {"channel": "webhook", "status": 200}
    assert [r.headers["Idempotency-Key"] for r in seen] == ["ask:9", "ask:9"]
    assert json.loads(seen[1].content)["payload"] == {"q": 1}


WORKER = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from router.storage.database import Database
    from router.delivery.outbox import deliver_due

    url, out, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])

    class FileChannel:
        name = "file"
        def send(self, message):
            with open(out, "a") as handle:
                handle.write(message.idempotency_key + "\\n")
            return {}

    database = Database(url)
    channel = FileChannel()
    while deliver_due(database, channel, now=now, worker_id=out, batch=3).claimed:
        pass
    """
)


@pytest.mark.skipif(
    not os.environ.get("ASKAROUND_TEST_DATABASE_URL"),
    reason="needs PostgreSQL (set ASKAROUND_TEST_DATABASE_URL)",
)
def test_two_worker_processes_deliver_each_message_exactly_once(
    database: Database, database_url: str, now: datetime, tmp_path: Path
) -> None:
    network_id = _network(database, now)
    keys = [f"p{i}" for i in range(400)]
    _enqueue(database, network_id, keys, now)
    outputs = [tmp_path / "a.txt", tmp_path / "b.txt"]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, database_url, str(out), now.isoformat()],
            cwd=Path(__file__).parent.parent,
        )
        for out in outputs
    ]
    assert [worker.wait(timeout=300) for worker in workers] == [0, 0]
    delivered = [line for out in outputs if out.exists() for line in out.read_text().splitlines()]
    assert sorted(delivered) == sorted(keys)
    with database.transaction() as session:
        assert outbox_counts(session) == {"pending": 0, "sent": 400, "dead": 0}


class WaitingChannel:
    """Puts every message off until ``until`` (the recipient's hours), then delivers it."""

    name = "waiting"

    def __init__(self, until: datetime, now: list[datetime]) -> None:
        self.until = until
        self.now = now
        self.delivered: list[str] = []

    def send(self, message: OutboundMessage) -> dict[str, Any]:
        if self.now[0] < self.until:
            raise Deferred(self.until, "outside the recipient's hours")
        self.delivered.append(message.idempotency_key)
        return {"ok": True}


def test_a_message_put_off_waits_until_then_without_counting_an_attempt(
    database: Database, now: datetime
) -> None:
    network_id = _network(database, now)
    _enqueue(database, network_id, ["later"], now)
    until = now + timedelta(hours=5)
    clock = [now]
    channel = WaitingChannel(until, clock)
    for _ in range(3):  # however often the worker comes by before then
        report = deliver_due(database, channel, now=clock[0], worker_id="w")
        assert report.deferred <= 1 and report.sent == 0
        clock[0] += timedelta(minutes=1)
    with database.transaction() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.status == "pending" and row.attempts == 0 and row.next_attempt_at == until
    clock[0] = until
    assert deliver_due(database, channel, now=until, worker_id="w").sent == 1
    with database.transaction() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.status == "sent" and row.attempts == 1
    assert channel.delivered == ["later"]
