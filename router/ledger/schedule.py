"""The one weekly-summary job: Monday morning in each person's timezone, once per person and week.

A person's summary of ISO week W is due from 09:00 on the Monday after W in their own timezone
(``Person.timezone``, UTC when unknown); a Monday missed (nothing ran, the machine was down) is
still sent later that week, because the job always looks for the latest week that is due. With an
explicit ``week`` (the operator's ``askaround summary send --week W``) a week is due for everyone
for whom it has ended. Messages go to the outbox under ``summary:<network>:<person>:<week>``, so
the job may run often, on several machines, through any channel (log, webhook, Slack): each
person gets each week once. The summary itself is ``router.ledger.summary`` (UTC ISO weeks).
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.delivery.outbox import enqueue
from router.ledger.snapshot import load_snapshot
from router.ledger.summary import weekly_summary
from router.ledger.summary_text import render_person_summary
from router.ledger.weeks import moment_in_week, week_bounds
from router.network.people import address
from router.storage.schema import OutboxMessage, Person

MORNING_HOUR = 9


@dataclass(frozen=True)
class SummaryRun:
    """What one pass of the job did: person ids queued now, already queued, and not sent, by why."""

    weeks: tuple[str, ...] = ()  # the weeks summarised in this pass
    enqueued: tuple[int, ...] = ()
    already_sent: tuple[int, ...] = ()
    nothing_to_say: tuple[int, ...] = ()  # no favours ever, nothing waiting, no open question
    not_due: tuple[
        int, ...
    ] = ()  # the week has not ended (or its Monday morning not come) for them

    def __add__(self, other: SummaryRun) -> SummaryRun:
        return SummaryRun(
            weeks=tuple(sorted(set(self.weeks) | set(other.weeks))),
            enqueued=self.enqueued + other.enqueued,
            already_sent=self.already_sent + other.already_sent,
            nothing_to_say=self.nothing_to_say + other.nothing_to_say,
            not_due=self.not_due + other.not_due,
        )


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """A person's timezone, UTC when unknown or unreadable."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def summary_key(network_id: int, person_id: int, week: str) -> str:
    """The outbox key that makes a person's summary of a week go out once."""
    return f"summary:{network_id}:{person_id}:{week}"


def due_from(week: str, timezone: str | None) -> datetime:
    """When the summary of ``week`` is due for someone in ``timezone``: the next Monday, 09:00 there."""
    _, end = week_bounds(week)
    local_monday = datetime.combine(end.date(), datetime.min.time(), tzinfo=zone(timezone))
    return local_monday + timedelta(hours=MORNING_HOUR)


def ended_at(week: str, timezone: str | None) -> datetime:
    """When ``week`` ends in ``timezone``: the next Monday, 00:00 there."""
    return due_from(week, timezone) - timedelta(hours=MORNING_HOUR)


def week_due(now: datetime, timezone: str | None) -> str:
    """The latest ISO week whose summary is due at ``now`` for someone in ``timezone``."""
    local = now.astimezone(zone(timezone))
    back = 1 if (local.weekday(), local.hour) >= (0, MORNING_HOUR) else 2
    year, week, _ = (
        local.date() - timedelta(days=7 * (back - 1) + local.weekday() + 1)
    ).isocalendar()
    return f"{year}-W{week:02d}"


def enqueue_due_summaries(
    session: Session, *, network_id: int, now: datetime, week: str | None = None
) -> SummaryRun:
    """Queue each person's due summary (or ``week``'s, where it has ended) once per person and week."""
    if week is not None:
        moment_in_week(week, now=now)  # a malformed or future week is refused before any read
    people = session.execute(
        select(Person.id, Person.timezone).where(
            Person.network_id == network_id,
            Person.opted_out.is_(False),
            Person.deactivated.is_(False),
        )
    ).all()
    due: dict[str, list[int]] = defaultdict(list)
    not_due: list[int] = []
    for person_id, timezone in people:
        if week is None:
            due[week_due(now, timezone)].append(int(person_id))
        elif ended_at(week, timezone) <= now:
            due[week].append(int(person_id))
        else:
            not_due.append(int(person_id))
    keys = {summary_key(network_id, p, w) for w, ids in due.items() for p in ids}
    sent = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys))
        )
    )
    run = SummaryRun(weeks=tuple(sorted(due)), not_due=tuple(not_due))
    for chosen in sorted(due):
        run += _enqueue_week(session, network_id, chosen, set(due[chosen]), sent, now=now)
    session.flush()
    return run


def _enqueue_week(
    session: Session,
    network_id: int,
    week: str,
    people: set[int],
    sent: set[str],
    *,
    now: datetime,
) -> SummaryRun:
    """Queue ``week``'s summary for ``people`` (those not already sent and with something to say)."""
    already = tuple(sorted(p for p in people if summary_key(network_id, p, week) in sent))
    todo = people - set(already)
    if not todo:
        return SummaryRun(already_sent=already)
    moment = moment_in_week(week, now=now)
    summary = weekly_summary(load_snapshot(session, network_id=network_id, now=moment), now=moment)
    enqueued, nothing = [], []
    for person in summary.people:
        if person.person_id not in todo:
            continue
        if person.is_empty:
            nothing.append(person.person_id)
            continue
        enqueue(
            session,
            network_id=network_id,
            recipient_id=person.person_id,
            kind="summary",
            payload={
                "to": address(session, person.person_id),
                "week": week,
                "text": render_person_summary(person, now=moment),
                "summary": person.as_dict(),
            },
            idempotency_key=summary_key(network_id, person.person_id, week),
            now=now,
        )
        enqueued.append(person.person_id)
    return SummaryRun(enqueued=tuple(enqueued), already_sent=already, nothing_to_say=tuple(nothing))


def describe_run(run: SummaryRun, *, week: str | None = None) -> str:
    """One line for an operator: what was queued and, when nothing was, why nothing was due."""
    weeks = run.weeks or ((week,) if week else ())
    head = f"week {', '.join(weeks)}: " if weeks else ""
    line = (
        f"{head}{len(run.enqueued)} summaries queued, {len(run.already_sent)} already sent, "
        f"{len(run.nothing_to_say)} with nothing to report"
    )
    if run.not_due and week:
        _, end = week_bounds(week)
        line += (
            f", {len(run.not_due)} not due: week {week} is not over yet for them "
            f"(it ends {end.date().isoformat()} in their timezone)"
        )
    if run.enqueued:
        return line
    if run.already_sent and not run.not_due:
        why = "every summary due was already sent"
    elif run.not_due and not run.already_sent and not run.nothing_to_say:
        why = f"week {week} is not over yet"
    elif run.nothing_to_say and not run.already_sent and not run.not_due:
        why = "nobody has favours, waiting asks or open questions to report"
    elif not (run.already_sent or run.not_due or run.nothing_to_say):
        why = "nobody in this network receives summaries (all opted out or deactivated)"
    else:
        why = "each summary was already sent, empty, or not due yet"
    return f"{line}; nothing is due now: {why}"
