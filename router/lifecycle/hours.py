"""Working hours: asks wait for the person's hours in their timezone, and one gentle reminder
goes to each ask still waiting shortly before its question is escalated.

Hours are whole hours "START-END" (``9-17``) read in the person's timezone, every day; an end
before the start spans midnight (``22-6``). A person's own hours win over the workspace default;
no hours at all means any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String, select
from sqlalchemy.orm import Session

from router.errors import InvalidInput
from router.lifecycle.asks import notify
from router.lifecycle.states import AskStatus, QuestionStatus
from router.network.people import get_person_by_id
from router.storage.schema import Ask, OutboxMessage, Person, Question

REMINDER_LEAD = timedelta(hours=4)  # how long before escalation the waiting asks are reminded
REMINDER = "reminder"  # the outbox kind


@dataclass(frozen=True)
class WorkingHours:
    """From ``start`` (inclusive) to ``end`` (exclusive), whole hours of the local day."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"

    def covers(self, hour: int) -> bool:
        if self.start < self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end  # across midnight


def parse_hours(text: str) -> WorkingHours:
    """``9-17`` (or ``09-17``, ``9:00-17:00``) as working hours; raises InvalidInput otherwise."""
    start, sep, end = text.strip().replace(":00", "").partition("-")
    if not sep or not start.strip().isdigit() or not end.strip().isdigit():
        raise InvalidInput("working hours look like 9-17 (whole hours, 24-hour clock)")
    first, last = int(start), int(end)
    if not (0 <= first <= 23 and 1 <= last <= 24) or first == last:
        raise InvalidInput("working hours run from 0-23 to 1-24 and are not empty")
    return WorkingHours(first, last)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def next_start(
    now: datetime, *, timezone: str | None, hours: WorkingHours | None
) -> datetime | None:
    """None if ``now`` is within the hours (or there are none), else when they next begin."""
    if hours is None:
        return None
    local = now.astimezone(zone(timezone))
    if hours.covers(local.hour):
        return None
    start = local.replace(hour=hours.start, minute=0, second=0, microsecond=0)
    if start <= local:
        start = start + timedelta(days=1)
    return start.astimezone(now.tzinfo)


def hours_of(person: Person, default: str | None) -> WorkingHours | None:
    """The person's own hours, else the workspace default, else None (any time)."""
    text = person.working_hours or default
    if not text:
        return None
    try:
        return parse_hours(text)
    except InvalidInput:
        return None


def set_working_hours(
    session: Session, *, network_id: int, person_id: int, hours: str | None
) -> WorkingHours | None:
    """Set (or with None clear) a person's own working hours."""
    person = get_person_by_id(session, network_id=network_id, person_id=person_id)
    parsed = parse_hours(hours) if hours is not None else None
    person.working_hours = str(parsed) if parsed is not None else None
    session.flush()
    return parsed


def remind_waiting(session: Session, *, now: datetime, lead: timedelta = REMINDER_LEAD) -> int:
    """Queue one reminder for each delivered ask still waiting when escalation is near."""
    rows = session.execute(
        select(Ask, Question)
        .join(Question, Question.id == Ask.question_id)
        .join(OutboxMessage, OutboxMessage.idempotency_key == "ask:" + Ask.id.cast(String))
        .where(
            Ask.status == AskStatus.PENDING,
            Question.status == QuestionStatus.OPEN,
            Question.next_escalation_at.is_not(None),
            Question.next_escalation_at <= now + lead,
            OutboxMessage.status == "sent",
        )
    ).all()
    queued = 0
    for ask, question in rows:
        key = f"reminder:{ask.id}"
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)):
            continue
        notify(
            session,
            question=question,
            recipient_id=ask.person_id,
            kind=REMINDER,
            key=key,
            now=now,
            ask_id=ask.id,
        )
        queued += 1
    return queued
