"""The weekly summary in Slack: Monday morning in each person's own timezone, once per week.

The job runs every few minutes (the bot's courier) or on demand (``askaround slack
summary-send``). A person is due from 09:00 to midnight on their local Monday (``Person.timezone``,
kept from Slack's ``tz`` by member sync); they get the summary of the ISO week that just ended
for them. Messages are queued under the core's key ``summary:<network>:<person>:<week>``, so
running the job twice, or on two machines, or alongside the core's own sender, sends once.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.delivery.outbox import enqueue
from router.ledger.snapshot import load_snapshot
from router.ledger.summary import moment_in_week, summary_key, weekly_summary
from router.ledger.summary_text import render_person_summary
from router.lifecycle.asks import address
from router.storage.schema import Network, OutboxMessage, Person

if TYPE_CHECKING:
    from bots.runtime import SlackBot

MORNING_HOUR = 9


@dataclass(frozen=True)
class SummaryRun:
    """What one pass did, over every Slack network."""

    enqueued: int = 0
    already_sent: int = 0
    nothing_to_say: int = 0
    not_yet: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def week_due(now: datetime, timezone: str | None) -> str | None:
    """The ISO week to summarise for someone in ``timezone`` now, or None if not their Monday morning."""
    local = now.astimezone(zone(timezone))
    if local.weekday() != 0 or local.hour < MORNING_HOUR:
        return None
    year, week, _ = (local.date() - timedelta(days=1)).isocalendar()
    return f"{year}-W{week:02d}"


def enqueue_due_summaries(session: Session, *, network_id: int, now: datetime) -> SummaryRun:
    """Queue the summary for each person of one network whose Monday morning has come."""
    people = session.execute(
        select(Person.id, Person.timezone).where(
            Person.network_id == network_id,
            Person.opted_out.is_(False),
            Person.deactivated.is_(False),
        )
    ).all()
    due: dict[str, list[int]] = defaultdict(list)
    not_yet = 0
    for person_id, timezone in people:
        week = week_due(now, timezone)
        if week is None:
            not_yet += 1
        else:
            due[week].append(int(person_id))
    keys = {
        summary_key(network_id, pid, week): (pid, week) for week, ids in due.items() for pid in ids
    }
    sent = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys))
        )
    )
    enqueued = nothing = 0
    for week in sorted(due):
        todo = {pid for pid in due[week] if summary_key(network_id, pid, week) not in sent}
        if not todo:
            continue
        moment = moment_in_week(week, now=now)
        summary = weekly_summary(
            load_snapshot(session, network_id=network_id, now=moment), now=moment
        )
        for person in summary.people:
            if person.person_id not in todo:
                continue
            if person.is_empty:
                nothing += 1
                continue
            payload: dict[str, Any] = {
                "to": address(session, person.person_id),
                "week": week,
                "text": render_person_summary(person, now=moment),
                "summary": person.as_dict(),
            }
            enqueue(
                session,
                network_id=network_id,
                recipient_id=person.person_id,
                kind="summary",
                payload=payload,
                idempotency_key=summary_key(network_id, person.person_id, week),
                now=now,
            )
            enqueued += 1
    return SummaryRun(
        enqueued=enqueued, already_sent=len(sent), nothing_to_say=nothing, not_yet=not_yet
    )


def enqueue_due(bot: SlackBot, *, now: datetime) -> SummaryRun:
    """The job: every Slack network, each in its own transaction."""
    with bot.transaction() as session:
        networks = list(
            session.scalars(select(Network.id).where(Network.slack_team_id.is_not(None)))
        )
    total = SummaryRun()
    for network_id in networks:
        with bot.transaction() as session:
            run = enqueue_due_summaries(session, network_id=network_id, now=now)
        total = SummaryRun(**{k: getattr(total, k) + v for k, v in run.as_dict().items()})
    return total
