"""The give/take ledger: favours between people, totals in any window, and who owes whom.

A favour goes from a giver to a taker and has a positive weight. What earns one (the only
writers are the question lifecycle and importers):

    answer    1.0   someone answered your question
    helpful  +1.0   you marked that answer helpful (a separate row, its own source key)
    thanks   +0.25  you thanked them for it
    history   1.0   an answer imported from before Askaround (e.g. a Stack Exchange dump)
    reuse     0.5   your past answer answered someone's new question, so nobody was asked

Invariants hold by construction: ``record_favour`` refuses a favour to oneself (and the table
checks it too), every row adds ``weight`` to one person's *given* and the same to another's
*received*, so balances over a network sum to zero and a pair's balance is antisymmetric.
Each cause has a ``source_key`` unique per network, so recording it again changes nothing.

"Count" below means answers (``answer`` and ``history`` rows); "weight" sums every row, so a
helpful answer counts once but weighs 2.0.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from router.errors import InvalidInput, NotFound
from router.storage.idempotency import insert_once
from router.storage.schema import Favour, Person

FAVOUR_WEIGHTS: dict[str, float] = {
    "answer": 1.0,
    "helpful": 1.0,
    "thanks": 0.25,
    "history": 1.0,
    "reuse": 0.5,  # a past answer reused instead of asking anyone (router.ledger.reuse)
}
COUNTED_KINDS = ("answer", "history")


@dataclass(frozen=True)
class Totals:
    """What one person gave and received in a window: weights and answer counts."""

    given: float = 0.0
    received: float = 0.0
    given_count: int = 0
    received_count: int = 0

    @property
    def balance(self) -> float:
        """Given minus received: above zero, the network owes this person."""
        return self.given - self.received

    def as_dict(self) -> dict[str, Any]:
        return {
            "given": self.given,
            "received": self.received,
            "given_count": self.given_count,
            "received_count": self.received_count,
            "balance": self.balance,
        }


@dataclass(frozen=True)
class PairBalance:
    """Favours between two people, from ``person_id``'s side; ``net`` > 0 means ``other`` owes."""

    person_id: int
    other_id: int
    gave: float
    got: float
    gave_count: int
    got_count: int

    @property
    def net(self) -> float:
        return self.gave - self.got

    @property
    def debtor_id(self) -> int | None:
        """Who owes whom: the person who received more, or None when even."""
        if self.net > 0:
            return self.other_id
        if self.net < 0:
            return self.person_id
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "other_id": self.other_id,
            "gave": self.gave,
            "got": self.got,
            "gave_count": self.gave_count,
            "got_count": self.got_count,
            "net": self.net,
            "debtor_id": self.debtor_id,
        }


@dataclass(frozen=True)
class Debt:
    """One side of an uneven pair, named: ``net`` favours owed, and answers each way."""

    person_id: int
    name: str
    net: float
    their_count: int  # answers they gave the other side
    your_count: int  # answers the other side gave them

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "net": self.net,
            "their_count": self.their_count,
            "your_count": self.your_count,
        }


@dataclass(frozen=True)
class PersonLedger:
    """A person's page of the ledger: totals, whom they owe, and who owes them (largest first)."""

    person_id: int
    name: str
    totals: Totals
    owes: tuple[Debt, ...]  # people this person owes; Debt.their_count = what they gave us
    owed_by: tuple[Debt, ...]  # people who owe this person

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "totals": self.totals.as_dict(),
            "owes": [debt.as_dict() for debt in self.owes],
            "owed_by": [debt.as_dict() for debt in self.owed_by],
        }


def record_favour(
    session: Session,
    *,
    network_id: int,
    giver_id: int,
    taker_id: int,
    kind: str,
    source_key: str,
    now: datetime,
    weight: float | None = None,
    answer_id: int | None = None,
) -> Favour:
    """Record one favour from giver to taker for one cause; a known ``source_key`` is a no-op."""
    if giver_id == taker_id:
        raise InvalidInput("a favour needs two different people")
    if kind not in FAVOUR_WEIGHTS:
        raise InvalidInput(f"favour kind must be one of {', '.join(FAVOUR_WEIGHTS)}")
    weight = FAVOUR_WEIGHTS[kind] if weight is None else weight
    if not weight > 0:
        raise InvalidInput("a favour weighs more than zero")
    if not source_key.strip():
        raise InvalidInput("a favour needs a source key")
    insert_once(
        session,
        model=Favour,
        values={
            "network_id": network_id,
            "giver_id": giver_id,
            "taker_id": taker_id,
            "kind": kind,
            "weight": weight,
            "answer_id": answer_id,
            "source_key": source_key,
            "created_at": now,
        },
        unique=("network_id", "source_key"),
    )
    favour = session.scalar(
        select(Favour).where(Favour.network_id == network_id, Favour.source_key == source_key)
    )
    assert favour is not None
    return favour


def _window(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    """Half-open [since, until) on the favour's time."""
    if since is not None and until is not None and until < since:
        raise InvalidInput("a window ends after it starts")
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(Favour.created_at >= since)
    if until is not None:
        conditions.append(Favour.created_at < until)
    return conditions


def _pair_rows(
    session: Session, conditions: list[ColumnElement[bool]]
) -> list[tuple[int, int, float, int]]:
    counted = func.sum(case((Favour.kind.in_(COUNTED_KINDS), 1), else_=0))
    rows = session.execute(
        select(Favour.giver_id, Favour.taker_id, func.sum(Favour.weight), counted)
        .where(*conditions)
        .group_by(Favour.giver_id, Favour.taker_id)
    ).all()
    return [(int(g), int(t), float(w or 0.0), int(c or 0)) for g, t, w, c in rows]


def network_totals(
    session: Session,
    *,
    network_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[int, Totals]:
    """Given and received for everyone with a favour in the window, by person id."""
    given: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0])
    for giver, taker, weight, count in _pair_rows(
        session, [Favour.network_id == network_id, *_window(since, until)]
    ):
        given[giver][0] += weight
        given[giver][2] += count
        given[taker][1] += weight
        given[taker][3] += count
    return {
        person: Totals(given=g, received=r, given_count=int(gc), received_count=int(rc))
        for person, (g, r, gc, rc) in given.items()
    }


def person_totals(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Totals:
    """What one person gave and received in [since, until) (all time when both are None)."""
    rows = _pair_rows(
        session,
        [
            Favour.network_id == network_id,
            or_(Favour.giver_id == person_id, Favour.taker_id == person_id),
            *_window(since, until),
        ],
    )
    given = sum(w for g, _, w, _ in rows if g == person_id)
    received = sum(w for _, t, w, _ in rows if t == person_id)
    return Totals(
        given=given,
        received=received,
        given_count=sum(c for g, _, _, c in rows if g == person_id),
        received_count=sum(c for _, t, _, c in rows if t == person_id),
    )


def balances(
    session: Session,
    *,
    network_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[int, float]:
    """Each person's given minus received in the window; the values sum to zero."""
    return {
        person: totals.balance
        for person, totals in network_totals(
            session, network_id=network_id, since=since, until=until
        ).items()
    }


def pair_balance(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    other_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> PairBalance:
    """Favours between two people seen from ``person_id``: what each gave the other, who owes."""
    if person_id == other_id:
        raise InvalidInput("a pair needs two different people")
    rows = _pair_rows(
        session,
        [
            Favour.network_id == network_id,
            or_(
                and_(Favour.giver_id == person_id, Favour.taker_id == other_id),
                and_(Favour.giver_id == other_id, Favour.taker_id == person_id),
            ),
            *_window(since, until),
        ],
    )
    gave = [(w, c) for g, _, w, c in rows if g == person_id]
    got = [(w, c) for g, _, w, c in rows if g == other_id]
    return PairBalance(
        person_id=person_id,
        other_id=other_id,
        gave=sum(w for w, _ in gave),
        got=sum(w for w, _ in got),
        gave_count=sum(c for _, c in gave),
        got_count=sum(c for _, c in got),
    )


def pair_balances(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PairBalance]:
    """Every pair this person has exchanged favours with, seen from their side."""
    rows = _pair_rows(
        session,
        [
            Favour.network_id == network_id,
            or_(Favour.giver_id == person_id, Favour.taker_id == person_id),
            *_window(since, until),
        ],
    )
    pairs: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0])
    for giver, taker, weight, count in rows:
        if giver == person_id:
            pairs[taker][0] += weight
            pairs[taker][2] += count
        else:
            pairs[giver][1] += weight
            pairs[giver][3] += count
    return [
        PairBalance(
            person_id=person_id,
            other_id=other,
            gave=gave,
            got=got,
            gave_count=int(gave_count),
            got_count=int(got_count),
        )
        for other, (gave, got, gave_count, got_count) in sorted(pairs.items())
    ]


def person_ledger(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> PersonLedger:
    """One person's ledger: totals, whom they owe and who owes them, named, largest debt first."""
    person = session.get(Person, person_id)
    if person is None or person.network_id != network_id:
        raise NotFound(f"no person #{person_id} in this network")
    pairs = pair_balances(
        session, network_id=network_id, person_id=person_id, since=since, until=until
    )
    names = {
        int(pid): str(name)
        for pid, name in session.execute(
            select(Person.id, Person.display_name).where(
                Person.id.in_([pair.other_id for pair in pairs])
            )
        ).tuples()
    }

    def debt(pair: PairBalance) -> Debt:
        return Debt(
            person_id=pair.other_id,
            name=names.get(pair.other_id, f"#{pair.other_id}"),
            net=abs(pair.net),
            their_count=pair.got_count,
            your_count=pair.gave_count,
        )

    owes = sorted((debt(p) for p in pairs if p.net < 0), key=lambda d: (-d.net, d.name))
    owed_by = sorted((debt(p) for p in pairs if p.net > 0), key=lambda d: (-d.net, d.name))
    return PersonLedger(
        person_id=person_id,
        name=person.display_name,
        totals=person_totals(
            session, network_id=network_id, person_id=person_id, since=since, until=until
        ),
        owes=tuple(owes),
        owed_by=tuple(owed_by),
    )
