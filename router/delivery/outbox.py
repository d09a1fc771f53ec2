"""The transactional outbox: messages are stored with the state change that caused them, then sent.

``enqueue`` writes a message in the caller's transaction, so a question asked is a question whose
asks will be delivered: both commit or neither does. Its ``idempotency_key`` is unique, so
enqueueing the same message twice stores it once.

``deliver_due`` is the worker. It claims a batch of due rows in a short transaction of its own
(PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite, which has one writer at a time: a
conditional ``UPDATE``), so concurrent workers never claim the same row. A claim is a lease: a
worker that dies mid-send leaves the row to be claimed again when the lease runs out, and the
channel receives the idempotency key so that retry is not delivered twice. After the send, the
row is marked sent, or rescheduled with exponential backoff, or dead after ``max_attempts``
tries; each attempt is counted when claimed, so a message that kills its worker still dies.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session

from router.delivery.channels import Channel, Deferred, OutboundMessage
from router.errors import InvalidInput
from router.storage.database import Database
from router.storage.idempotency import insert_once
from router.storage.schema import OutboxMessage

MAX_KEY_CHARS = 200
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: delay doubles from ``base_delay`` up to ``max_delay``."""

    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int) -> timedelta:
        """The wait before the next try after ``attempts`` failed tries."""
        exponent = min(max(attempts - 1, 0), 30)
        delay: timedelta = min(self.base_delay * (2**exponent), self.max_delay)
        return delay


@dataclass(frozen=True)
class DeliveryReport:
    """What one ``deliver_due`` pass did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    lost: int = 0  # the lease ran out mid-send and another worker took the row over
    released: int = 0  # claimed but not tried: handed back because the worker was stopping
    deferred: int = 0  # not sent yet on purpose (the recipient's hours), no attempt counted

    def as_dict(self) -> dict[str, int]:
        """The counts every surface shows (``released`` is the stopping worker's own affair)."""
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retrying": self.retrying,
            "dead": self.dead,
            "lost": self.lost,
        }


def enqueue(
    session: Session,
    *,
    network_id: int,
    recipient_id: int | None,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
) -> OutboxMessage:
    """Store a message to send, in the caller's transaction; a known key returns the stored one."""
    if not idempotency_key or len(idempotency_key) > MAX_KEY_CHARS:
        raise InvalidInput(f"an idempotency key has 1 to {MAX_KEY_CHARS} characters")
    insert_once(
        session,
        model=OutboxMessage,
        values={
            "network_id": network_id,
            "recipient_id": recipient_id,
            "kind": kind,
            "payload": payload,
            "idempotency_key": idempotency_key,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
        unique=("idempotency_key",),
    )
    message = session.scalar(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    )
    assert message is not None
    return message


def _due(now: datetime) -> Any:
    return and_(
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now),
    )


def _claim(
    database: Database,
    *,
    now: datetime,
    token: str,
    batch: int,
    lease: timedelta,
    max_attempts: int,
) -> list[OutboundMessage]:
    """Lease up to ``batch`` due rows to ``token`` and commit, so no other worker can take them.

    A due row that has already been claimed ``max_attempts`` times killed every worker that took
    it (a clean failure is settled as dead at once): it is marked dead here, never sent again.
    """
    claim = {
        "locked_by": token,
        "locked_until": now + lease,
        "attempts": OutboxMessage.attempts + 1,
    }
    with database.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(_due(now), OutboxMessage.attempts >= max_attempts)
            .values(status="dead", last_error="the worker died while sending it, every time")
            .execution_options(synchronize_session=False)
        )
        oldest = select(OutboxMessage.id).where(_due(now))
        oldest = oldest.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(batch)
        if database.is_sqlite:
            # One writer at a time: the re-checked condition makes the claim atomic.
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(oldest.scalar_subquery()), _due(now))
                .values(**claim)
                .execution_options(synchronize_session=False)
            )
        else:
            ids = list(session.scalars(oldest.with_for_update(skip_locked=True)))
            if ids:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids))
                    .values(**claim)
                    .execution_options(synchronize_session=False)
                )
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.locked_by == token, OutboxMessage.status == "pending")
            .order_by(OutboxMessage.id)
        ).all()
        return [
            OutboundMessage(
                id=row.id,
                network_id=row.network_id,
                recipient_id=row.recipient_id,
                kind=row.kind,
                payload=dict(row.payload),
                idempotency_key=row.idempotency_key,
                attempt=row.attempts,
            )
            for row in rows
        ]


def _settle(database: Database, *, message_id: int, token: str, values: dict[str, Any]) -> bool:
    """Write the outcome of a send, only if this worker still holds the lease."""
    with database.transaction() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.locked_by == token)
            .values(locked_by=None, locked_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1


def _release(database: Database, *, message_ids: list[int], token: str) -> int:
    """Hand claimed, untried messages back at once (not after the lease), uncounted."""
    if not message_ids:
        return 0
    with database.transaction() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.locked_by == token)
            .values(locked_by=None, locked_until=None, attempts=OutboxMessage.attempts - 1)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount)


def _never() -> bool:
    return False


def deliver_due(
    database: Database,
    channel: Channel,
    *,
    now: datetime,
    worker_id: str,
    batch: int = 50,
    retry: RetryPolicy | None = None,
    stopping: Callable[[], bool] = _never,
) -> DeliveryReport:
    """Claim due messages, send each through ``channel``, and record sent, retry or dead.

    ``stopping`` is asked before each send: once it says yes, the message being sent has been
    settled and the rest of the batch is released for another worker right away.
    Owns its transactions (a claim must commit before the send), unlike the service functions.
    """
    if batch < 1:
        raise InvalidInput("a batch is at least one message")
    retry = retry or RetryPolicy()
    token = f"{worker_id[:60]}/{uuid.uuid4().hex[:12]}"
    messages = _claim(
        database,
        now=now,
        token=token,
        batch=batch,
        lease=retry.lease,
        max_attempts=retry.max_attempts,
    )
    outcomes = {"sent": 0, "retrying": 0, "dead": 0, "lost": 0, "released": 0, "deferred": 0}
    for position, message in enumerate(messages):
        if stopping():
            rest = [untried.id for untried in messages[position:]]
            outcomes["released"] = _release(database, message_ids=rest, token=token)
            break
        values: dict[str, Any]
        try:
            result = channel.send(message)
        except Deferred as wait:  # on purpose: due again then, this try not counted
            outcome = "deferred"
            values = {
                "next_attempt_at": wait.until,
                "attempts": OutboxMessage.attempts - 1,
                "last_error": f"deferred: {wait}"[:MAX_ERROR_CHARS],
            }
        except Exception as exc:  # a channel is the outside world: any failure is a failed send
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            if message.attempt >= retry.max_attempts:
                outcome, values = "dead", {"status": "dead", "last_error": error}
            else:
                outcome = "retrying"
                values = {
                    "last_error": error,
                    "next_attempt_at": now + retry.delay(message.attempt),
                }
        else:
            outcome, values = "sent", {"status": "sent", "sent_at": now, "result": result}
        settled = _settle(database, message_id=message.id, token=token, values=values)
        outcomes[outcome if settled else "lost"] += 1
    return DeliveryReport(claimed=len(messages), **outcomes)


def outbox_counts(session: Session, *, network_id: int | None = None) -> dict[str, int]:
    """How many messages are pending, sent and dead (optionally in one network)."""
    query = select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(
        OutboxMessage.status
    )
    if network_id is not None:
        query = query.where(OutboxMessage.network_id == network_id)
    counts = {"pending": 0, "sent": 0, "dead": 0}
    counts.update({str(status): int(count) for status, count in session.execute(query).tuples()})
    return counts


@dataclass(frozen=True)
class Held:
    """Messages a worker has claimed and not settled: sent by it soon, or free when ``until``."""

    worker_id: str
    count: int
    until: datetime


def held_messages(session: Session, *, now: datetime) -> list[Held]:
    """Pending messages under a live lease, by the worker holding them (its id before the '/')."""
    rows = session.execute(
        select(
            OutboxMessage.locked_by,
            func.count(OutboxMessage.id),
            func.max(OutboxMessage.locked_until),
        )
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.locked_by.is_not(None),
            OutboxMessage.locked_until > now,
        )
        .group_by(OutboxMessage.locked_by)
    ).tuples()
    by_worker: dict[str, tuple[int, datetime]] = {}
    for token, count, until in rows:
        if until is None:
            continue
        worker = str(token).rsplit("/", 1)[0]
        before = by_worker.get(worker)
        total = int(count) + (before[0] if before else 0)
        latest = until if before is None or until > before[1] else before[1]
        by_worker[worker] = (total, latest)
    return [Held(worker, count, until) for worker, (count, until) in sorted(by_worker.items())]


def release_held(session: Session, *, worker_ids: list[str]) -> int:
    """Free the leases of workers known to be gone (their process died): due again now."""
    if not worker_ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == "pending",
            or_(*(OutboxMessage.locked_by.like(f"{worker[:60]}/%") for worker in worker_ids)),
        )
        .values(locked_by=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
