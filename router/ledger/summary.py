"""The weekly "favours owed" summary: a pure function of the ledger and ``now``, then rendered.

``router.ledger.snapshot.load_snapshot`` reads what the summary needs (people, favours, asks,
questions, all as of ``now``); ``weekly_summary`` turns a snapshot into values and reads nothing else, so the same
ledger and the same ``now`` always give the same summary, and a past week can be recomputed
(pass a ``now`` inside it). Weeks are ISO weeks in UTC, Monday 00:00 to Monday 00:00.

Sending it is ``router.ledger.schedule``'s job (each person's Monday morning, once per week).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import field, fields
from datetime import datetime
from typing import Annotated, Any

from pydantic import PlainSerializer
from pydantic.dataclasses import dataclass as value
from sqlalchemy.orm import Session

from router.errors import NotFound
from router.ledger.balances import Debt, PairSum, Totals, pair_balances_of, totals_of
from router.ledger.fairness import gini
from router.ledger.privacy import ANONYMOUS, hidden_of, visible_debts
from router.ledger.snapshot import LedgerSnapshot, QuestionRow, load_snapshot
from router.ledger.weeks import iso_week, week_bounds
from router.values import json_of

TOP_GIVERS = 5


@value(frozen=True)
class Tally:
    """Favours in a period: how many answers and their total weight (helpful/thanks included)."""

    count: int = 0
    weight: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class WaitingAsk:
    """An ask still waiting on the person (the asker unnamed when they asked anonymously)."""

    ask_id: int
    question_id: int
    question: str
    asker_name: str
    asked_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class OpenQuestion:
    """A question still open with no answer yet, and how many people were asked."""

    question_id: int
    text: str
    asker_name: str
    asked_at: datetime
    people_asked: int

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class Owing:
    """A debt in the summary's JSON names (the API's shape since the first release)."""

    person_id: int
    name: str
    net: float
    they_answered: int
    you_answered: int


@value(frozen=True)
class Giver:
    """A top giver in the summary's JSON: a name and their tally, side by side."""

    name: str
    count: int
    weight: float


def _owings(debts: tuple[Debt, ...]) -> list[Owing]:
    return [Owing(d.person_id, d.name, d.net, d.their_count, d.your_count) for d in debts]


def _givers(givers: tuple[tuple[str, Tally], ...]) -> list[Giver]:
    return [Giver(name, tally.count, tally.weight) for name, tally in givers]


def _rounded(value: float) -> float:
    return round(value, 4)


# Debts and top givers keep their core types in Python and the summary's names in JSON.
Owings = Annotated[tuple[Debt, ...], PlainSerializer(_owings, return_type=list[Owing])]
Givers = Annotated[tuple[tuple[str, Tally], ...], PlainSerializer(_givers, return_type=list[Giver])]
Rounded = Annotated[float, PlainSerializer(_rounded, return_type=float)]


@value(frozen=True)
class PersonSummary:
    """One person's week: favours both ways, who owes whom, what waits on them, what is open."""

    person_id: int
    name: str
    week: str
    given_week: Tally
    received_week: Tally
    given_total: Tally
    received_total: Tally
    owes: Owings  # people this person owes, largest first
    owed_by: Owings  # people who owe this person, largest first
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
        return json_of(self)


@value(frozen=True)
class AskSpread:
    """How this week's asks were spread over people."""

    asks: int
    people_asked: int
    max_per_person: int
    busiest: tuple[str, ...]  # the people who got ``max_per_person``
    gini: Rounded  # across every person who can be asked, zeros included
    gini_among_asked: Rounded

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class NetworkWeek:
    """The network's part of the summary: top givers, who only takes, what is open, ask spread."""

    network_id: int
    network_name: str
    week: str
    week_start: datetime
    as_of: datetime
    top_givers: Givers  # this week, most given first
    only_take: tuple[str, ...]  # received favours, never gave one (all time)
    unanswered: tuple[OpenQuestion, ...]
    spread: AskSpread = field(default_factory=lambda: AskSpread(0, 0, 0, (), 0.0, 0.0))

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class NetworkSummary(NetworkWeek):
    """The network's week and every person's."""

    people: tuple[PersonSummary, ...] = ()

    def person(self, person_id: int) -> PersonSummary:
        for summary in self.people:
            if summary.person_id == person_id:
                return summary
        raise NotFound(f"no person #{person_id} in this network's summary")

    def network_week(self) -> NetworkWeek:
        """The network's part alone (what ``GET /v1/summary`` shows)."""
        return NetworkWeek(
            **{f.name: getattr(self, f.name) for f in fields(NetworkWeek)},
        )


def _tallies(totals: Totals | None) -> tuple[Tally, Tally]:
    """Given and received as tallies (answers, weight)."""
    t = totals or Totals()
    return Tally(t.given_count, t.given), Tally(t.received_count, t.received)


def weekly_summary(snapshot: LedgerSnapshot, *, now: datetime) -> NetworkSummary:
    """The week of ``now``, summarised for every person and for the network. Reads nothing else."""
    week = iso_week(now)
    week_start, _ = week_bounds(week)
    names = snapshot.names

    def name(pid: int) -> str:
        return names.get(pid, f"#{pid}")

    def asker(question: QuestionRow) -> str:
        return ANONYMOUS if question.anonymous else name(question.asker_id)

    totals, week_totals = totals_of(snapshot.pairs_total), totals_of(snapshot.pairs_week)
    pairs_of: dict[int, list[PairSum]] = defaultdict(list)
    for pair in snapshot.pairs_total:
        pairs_of[pair.giver_id].append(pair)
        pairs_of[pair.taker_id].append(pair)

    questions = {q.id: q for q in snapshot.questions if q.created_at <= now}
    asks = [a for a in snapshot.asks if a.created_at <= now and a.question_id in questions]
    asked_per_question = Counter(a.question_id for a in asks)
    unanswered = tuple(
        OpenQuestion(q.id, q.text, asker(q), q.created_at, asked_per_question[q.id])
        for q in questions.values()
        if q.unanswered_at(now)
    )
    waiting: dict[int, list[WaitingAsk]] = defaultdict(list)
    for a in asks:
        q = questions[a.question_id]
        if q.open_at(now) and (a.responded_at is None or a.responded_at > now):
            waiting[a.person_id].append(WaitingAsk(a.id, q.id, q.text, asker(q), a.created_at))

    people = []
    for pid in sorted(names, key=lambda p: (name(p).lower(), p)):
        owes, owed_by = visible_debts(
            pair_balances_of(pid, pairs_of[pid]), hidden_of(pid, snapshot.hidden_total), names
        )
        given_week, received_week = _tallies(week_totals.get(pid))
        given_total, received_total = _tallies(totals.get(pid))
        people.append(
            PersonSummary(
                person_id=pid,
                name=name(pid),
                week=week,
                given_week=given_week,
                received_week=received_week,
                given_total=given_total,
                received_total=received_total,
                owes=owes,
                owed_by=owed_by,
                waiting=tuple(waiting[pid]),
                unanswered=tuple(q for q in unanswered if questions[q.question_id].asker_id == pid),
                reused_week=snapshot.reused_week.get(pid, 0),
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
