"""The weekly "favours owed" summary: a pure function of the ledger and ``now``, then rendered.

``router.ledger.snapshot.load_snapshot`` reads what the summary needs (people, favours, asks,
questions, all as of ``now``); ``weekly_summary`` turns a snapshot into values and reads nothing else, so the same
ledger and the same ``now`` always give the same summary, and a past week can be recomputed
(pass a ``now`` inside it). Weeks are ISO weeks in UTC, Monday 00:00 to Monday 00:00.

Sending (``enqueue_weekly_summaries``) puts one message per person in the outbox under the key
``summary:<network>:<person>:<ISO week>``, so running the job twice in a week sends once.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.delivery.outbox import enqueue
from router.errors import InvalidInput, NotFound
from router.ledger.fairness import gini
from router.ledger.favours import COUNTED_KINDS
from router.ledger.reuse import people_helped_by_reuse
from router.ledger.snapshot import FavourRow, LedgerSnapshot, load_snapshot
from router.ledger.summary_text import render_person_summary
from router.lifecycle.asks import address
from router.storage.schema import OutboxMessage

TOP_GIVERS = 5
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def iso_week(moment: datetime) -> str:
    """``2026-W48`` for any moment in that ISO week (UTC)."""
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """The first moment of an ISO week and the first moment of the next, in UTC."""
    match = _WEEK.match(week.strip())
    if match is None:
        raise InvalidInput(f"a week looks like 2026-W48, not {week!r}")
    try:
        start = datetime.fromisocalendar(int(match[1]), int(match[2]), 1).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput(f"there is no week {week}") from exc
    return start, start + timedelta(days=7)


def moment_in_week(week: str, *, now: datetime) -> datetime:
    """The ``now`` a summary of ``week`` is computed at: ``now`` itself, or the week's last moment."""
    start, end = week_bounds(week)
    if start > now:
        raise InvalidInput(f"week {week} has not started yet")
    return min(now, end - timedelta(microseconds=1))


@dataclass(frozen=True)
class Tally:
    """Favours in a period: how many answers and their total weight (helpful/thanks included)."""

    count: int = 0
    weight: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "weight": self.weight}


@dataclass(frozen=True)
class Owing:
    """One named person and the favours between them: ``net`` owed, answers each way."""

    person_id: int
    name: str
    net: float
    they_answered: int  # times this person answered the summary's person
    you_answered: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "net": self.net,
            "they_answered": self.they_answered,
            "you_answered": self.you_answered,
        }


@dataclass(frozen=True)
class WaitingAsk:
    ask_id: int
    question_id: int
    question: str
    asker_name: str
    asked_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "ask_id": self.ask_id,
            "question_id": self.question_id,
            "question": self.question,
            "asker_name": self.asker_name,
            "asked_at": self.asked_at.isoformat(),
        }


@dataclass(frozen=True)
class OpenQuestion:
    question_id: int
    text: str
    asker_name: str
    asked_at: datetime
    people_asked: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "text": self.text,
            "asker_name": self.asker_name,
            "asked_at": self.asked_at.isoformat(),
            "people_asked": self.people_asked,
        }


@dataclass(frozen=True)
class PersonSummary:
    person_id: int
    name: str
    week: str
    given_week: Tally
    received_week: Tally
    given_total: Tally
    received_total: Tally
    owes: tuple[Owing, ...]  # people this person owes, largest first
    owed_by: tuple[Owing, ...]  # people who owe this person, largest first
    waiting: tuple[WaitingAsk, ...]  # asks still waiting on this person
    unanswered: tuple[OpenQuestion, ...]  # this person's own questions with no answer yet
    reused_week: int = 0  # people this person's past answers helped this week (reuse favours)

    @property
    def is_empty(self) -> bool:
        """Nothing to tell: no favours ever, nothing waiting, no open question."""
        return not (
            self.given_total.count
            or self.received_total.count
            or self.given_total.weight
            or self.received_total.weight
            or self.waiting
            or self.unanswered
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "week": self.week,
            "given_week": self.given_week.as_dict(),
            "received_week": self.received_week.as_dict(),
            "given_total": self.given_total.as_dict(),
            "received_total": self.received_total.as_dict(),
            "owes": [o.as_dict() for o in self.owes],
            "owed_by": [o.as_dict() for o in self.owed_by],
            "waiting": [w.as_dict() for w in self.waiting],
            "unanswered": [q.as_dict() for q in self.unanswered],
            "reused_week": self.reused_week,
        }


@dataclass(frozen=True)
class AskSpread:
    """How this week's asks were spread over people."""

    asks: int
    people_asked: int
    max_per_person: int
    busiest: tuple[str, ...]  # the people who got ``max_per_person``
    gini: float  # across every person who can be asked, zeros included
    gini_among_asked: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "asks": self.asks,
            "people_asked": self.people_asked,
            "max_per_person": self.max_per_person,
            "busiest": list(self.busiest),
            "gini": round(self.gini, 4),
            "gini_among_asked": round(self.gini_among_asked, 4),
        }


@dataclass(frozen=True)
class NetworkSummary:
    network_id: int
    network_name: str
    week: str
    week_start: datetime
    as_of: datetime
    people: tuple[PersonSummary, ...]
    top_givers: tuple[tuple[str, Tally], ...]  # this week, most given first
    only_take: tuple[str, ...]  # received favours, never gave one (all time)
    unanswered: tuple[OpenQuestion, ...]
    spread: AskSpread = field(default_factory=lambda: AskSpread(0, 0, 0, (), 0.0, 0.0))

    def person(self, person_id: int) -> PersonSummary:
        for summary in self.people:
            if summary.person_id == person_id:
                return summary
        raise NotFound(f"no person #{person_id} in this network's summary")

    def as_dict(self) -> dict[str, Any]:
        return {
            "network_id": self.network_id,
            "network_name": self.network_name,
            "week": self.week,
            "week_start": self.week_start.isoformat(),
            "as_of": self.as_of.isoformat(),
            "people": [p.as_dict() for p in self.people],
            "top_givers": [{"name": n, **t.as_dict()} for n, t in self.top_givers],
            "only_take": list(self.only_take),
            "unanswered": [q.as_dict() for q in self.unanswered],
            "spread": self.spread.as_dict(),
        }


def _tally(rows: list[FavourRow]) -> Tally:
    return Tally(
        count=sum(1 for r in rows if r.kind in COUNTED_KINDS), weight=sum(r.weight for r in rows)
    )


def weekly_summary(snapshot: LedgerSnapshot, *, now: datetime) -> NetworkSummary:
    """The week of ``now``, summarised for every person and for the network. Reads nothing else."""
    week = iso_week(now)
    week_start, _ = week_bounds(week)
    names = snapshot.names

    def name(pid: int) -> str:
        return names.get(pid, f"#{pid}")

    favours = [f for f in snapshot.favours if f.at <= now]
    given: dict[int, list[FavourRow]] = defaultdict(list)
    received: dict[int, list[FavourRow]] = defaultdict(list)
    pairs: dict[tuple[int, int], list[FavourRow]] = defaultdict(list)
    for f in favours:
        given[f.giver_id].append(f)
        received[f.taker_id].append(f)
        pairs[(f.giver_id, f.taker_id)].append(f)

    questions = {q.id: q for q in snapshot.questions if q.created_at <= now}
    asks = [a for a in snapshot.asks if a.created_at <= now and a.question_id in questions]
    asked_per_question = Counter(a.question_id for a in asks)
    unanswered = tuple(
        OpenQuestion(q.id, q.text, name(q.asker_id), q.created_at, asked_per_question[q.id])
        for q in questions.values()
        if q.unanswered_at(now)
    )
    waiting: dict[int, list[WaitingAsk]] = defaultdict(list)
    for a in asks:
        q = questions[a.question_id]
        if q.open_at(now) and (a.responded_at is None or a.responded_at > now):
            waiting[a.person_id].append(
                WaitingAsk(a.id, q.id, q.text, name(q.asker_id), a.created_at)
            )

    def owing(pid: int) -> tuple[tuple[Owing, ...], tuple[Owing, ...]]:
        others = {t for (g, t) in pairs if g == pid} | {g for (g, t) in pairs if t == pid}
        owes, owed_by = [], []
        for other in others:
            mine, theirs = pairs.get((pid, other), []), pairs.get((other, pid), [])
            net = sum(f.weight for f in mine) - sum(f.weight for f in theirs)
            entry = Owing(
                person_id=other,
                name=name(other),
                net=abs(net),
                they_answered=_tally(theirs).count,
                you_answered=_tally(mine).count,
            )
            if net < 0:
                owes.append(entry)
            elif net > 0:
                owed_by.append(entry)

        def order(o: Owing) -> tuple[float, str]:
            return (-o.net, o.name)

        return tuple(sorted(owes, key=order)), tuple(sorted(owed_by, key=order))

    people = []
    for pid in sorted(names, key=lambda p: (name(p).lower(), p)):
        owes, owed_by = owing(pid)
        people.append(
            PersonSummary(
                person_id=pid,
                name=name(pid),
                week=week,
                given_week=_tally([f for f in given[pid] if f.at >= week_start]),
                received_week=_tally([f for f in received[pid] if f.at >= week_start]),
                given_total=_tally(given[pid]),
                received_total=_tally(received[pid]),
                owes=owes,
                owed_by=owed_by,
                waiting=tuple(waiting[pid]),
                unanswered=tuple(q for q in unanswered if questions[q.question_id].asker_id == pid),
                reused_week=people_helped_by_reuse(given[pid], giver_id=pid, since=week_start),
            )
        )

    top = sorted(
        ((p.name, p.given_week) for p in people if p.given_week.weight > 0),
        key=lambda item: (-item[1].weight, -item[1].count, item[0]),
    )[:TOP_GIVERS]
    only_take = tuple(
        p.name for p in people if p.received_total.weight > 0 and p.given_total.weight == 0
    )
    week_asks = Counter(a.person_id for a in asks if a.created_at >= week_start)
    most = max(week_asks.values(), default=0)
    spread = AskSpread(
        asks=sum(week_asks.values()),
        people_asked=len(week_asks),
        max_per_person=most,
        busiest=tuple(sorted(name(p) for p, n in week_asks.items() if n == most and most)),
        gini=gini([float(week_asks.get(p, 0)) for p in snapshot.recipients | set(week_asks)]),
        gini_among_asked=gini([float(n) for n in week_asks.values()]),
    )
    return NetworkSummary(
        network_id=snapshot.network_id,
        network_name=snapshot.network_name,
        week=week,
        week_start=week_start,
        as_of=now,
        people=tuple(people),
        top_givers=tuple(top),
        only_take=only_take,
        unanswered=unanswered,
        spread=spread,
    )


def build_weekly_summary(session: Session, *, network_id: int, now: datetime) -> NetworkSummary:
    """The summary of the week of ``now`` for a network, read from its ledger."""
    return weekly_summary(load_snapshot(session, network_id=network_id, now=now), now=now)


@dataclass(frozen=True)
class SummaryRun:
    """What ``enqueue_weekly_summaries`` did: messages queued now, already queued, skipped."""

    week: str
    enqueued: tuple[int, ...]  # person ids
    already_sent: tuple[int, ...]
    skipped: int  # people with nothing to report, or who opted out

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "enqueued": list(self.enqueued),
            "already_sent": list(self.already_sent),
            "skipped": self.skipped,
        }


def summary_key(network_id: int, person_id: int, week: str) -> str:
    return f"summary:{network_id}:{person_id}:{week}"


def enqueue_weekly_summaries(
    session: Session, *, network_id: int, now: datetime, week: str | None = None
) -> SummaryRun:
    """Queue a week's summary (default: the week of ``now``) for everyone with news, once per week."""
    as_of = now if week is None else moment_in_week(week, now=now)
    snapshot = load_snapshot(session, network_id=network_id, now=as_of)
    summary = weekly_summary(snapshot, now=as_of)
    wanted = [p for p in summary.people if p.person_id in snapshot.recipients and not p.is_empty]
    keys = {summary_key(network_id, p.person_id, summary.week): p for p in wanted}
    known = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys))
        )
    )
    enqueued, already = [], []
    for key, person in keys.items():
        if key in known:
            already.append(person.person_id)
            continue
        enqueue(
            session,
            network_id=network_id,
            recipient_id=person.person_id,
            kind="summary",
            payload={
                "to": address(session, person.person_id),
                "week": summary.week,
                "text": render_person_summary(person, now=as_of),
                "summary": person.as_dict(),
            },
            idempotency_key=key,
            now=now,
        )
        enqueued.append(person.person_id)
    session.flush()
    return SummaryRun(
        week=summary.week,
        enqueued=tuple(enqueued),
        already_sent=tuple(already),
        skipped=len(summary.people) - len(wanted),
    )
