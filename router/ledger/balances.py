"""Favour arithmetic, once: sums per (giver, taker) pair in a window, and what follows from them.

Every view of the ledger (a person's page, the network's totals, fairness in routing, the weekly
summary) starts from ``pair_sums``: one SQL aggregate, never every favour loaded. Windows are
half-open, ``[since, until)``; "as of ``now``" is ``Window.as_of(now)``, which includes ``now``.
"Count" means answers (``answer`` and ``history`` rows); "weight" sums every row, so a helpful
answer counts once but weighs 2.0. ``pair_sums_of`` is the same arithmetic over rows in memory
(tests and replays check the SQL against it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import computed_field
from pydantic.dataclasses import dataclass as value
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from router.errors import InvalidInput
from router.storage.schema import Favour
from router.values import json_of

COUNTED_KINDS = ("answer", "history")
# Stored times have microsecond resolution, so [since, now + 1µs) is "up to and including now".
RESOLUTION = timedelta(microseconds=1)


@dataclass(frozen=True)
class Window:
    """Favours made in ``[since, until)``; ``None`` leaves that side open."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.until < self.since:
            raise InvalidInput("a window ends after it starts")

    @classmethod
    def as_of(cls, now: datetime, *, since: datetime | None = None) -> Window:
        """Everything up to and including ``now`` (from ``since`` when given)."""
        return cls(since=since, until=now + RESOLUTION)

    def contains(self, at: datetime) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)

    def conditions(self) -> list[ColumnElement[bool]]:
        """The window as SQL conditions on ``Favour.created_at``."""
        conditions: list[ColumnElement[bool]] = []
        if self.since is not None:
            conditions.append(Favour.created_at >= self.since)
        if self.until is not None:
            conditions.append(Favour.created_at < self.until)
        return conditions


@dataclass(frozen=True)
class PairSum:
    """Everything one person gave another in a window: total weight and answers."""

    giver_id: int
    taker_id: int
    weight: float
    count: int


@value(frozen=True)
class Totals:
    """What one person gave and received in a window: weights and answer counts."""

    given: float = 0.0
    received: float = 0.0
    given_count: int = 0
    received_count: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def balance(self) -> float:
        """Given minus received: above zero, the network owes this person."""
        return self.given - self.received

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class PairBalance:
    """Favours between two people, from ``person_id``'s side; ``net`` > 0 means ``other`` owes."""

    person_id: int
    other_id: int
    gave: float
    got: float
    gave_count: int
    got_count: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def net(self) -> float:
        """What ``other`` owes ``person`` (negative: what ``person`` owes)."""
        return self.gave - self.got

    @computed_field  # type: ignore[prop-decorator]
    @property
    def debtor_id(self) -> int | None:
        """Who owes whom: the person who received more, or None when even."""
        if self.net > 0:
            return self.other_id
        if self.net < 0:
            return self.person_id
        return None

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class Debt:
    """One side of an uneven pair, named: ``net`` favours owed, and answers each way."""

    person_id: int  # the other person
    name: str
    net: float
    their_count: int  # answers they gave the person whose page this is
    your_count: int  # answers that person gave them

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


def pair_sums(
    session: Session,
    *,
    network_id: int,
    window: Window = Window(),
    people: Collection[int] | None = None,
    between: tuple[int, Collection[int]] | None = None,
) -> list[PairSum]:
    """Sums per (giver, taker) in a window: all pairs, pairs touching ``people``, or ``between``
    one person and others."""
    counted = func.sum(case((Favour.kind.in_(COUNTED_KINDS), 1), else_=0))
    conditions = [Favour.network_id == network_id, *window.conditions()]
    if people is not None:
        conditions.append(or_(Favour.giver_id.in_(people), Favour.taker_id.in_(people)))
    if between is not None:
        one, others = between
        conditions.append(
            or_(
                and_(Favour.giver_id == one, Favour.taker_id.in_(others)),
                and_(Favour.taker_id == one, Favour.giver_id.in_(others)),
            )
        )
    rows = session.execute(
        select(Favour.giver_id, Favour.taker_id, func.sum(Favour.weight), counted)
        .where(*conditions)
        .group_by(Favour.giver_id, Favour.taker_id)
        .order_by(Favour.giver_id, Favour.taker_id)
    ).all()
    return [PairSum(int(g), int(t), float(w or 0.0), int(c or 0)) for g, t, w, c in rows]


def pair_sums_of(
    favours: Iterable[tuple[int, int, str, float, datetime]], window: Window = Window()
) -> list[PairSum]:
    """The same sums over (giver, taker, kind, weight, at) rows in memory."""
    sums: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0, 0])
    for giver, taker, kind, weight, at in favours:
        if window.contains(at):
            sums[(giver, taker)][0] += weight
            sums[(giver, taker)][1] += kind in COUNTED_KINDS
    return [PairSum(g, t, w, int(c)) for (g, t), (w, c) in sorted(sums.items())]


def totals_of(pairs: Iterable[PairSum]) -> dict[int, Totals]:
    """Given and received per person, for everyone in a pair."""
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0])
    for pair in pairs:
        sums[pair.giver_id][0] += pair.weight
        sums[pair.giver_id][2] += pair.count
        sums[pair.taker_id][1] += pair.weight
        sums[pair.taker_id][3] += pair.count
    return {
        person: Totals(given=g, received=r, given_count=int(gc), received_count=int(rc))
        for person, (g, r, gc, rc) in sums.items()
    }


def pair_balances_of(person_id: int, pairs: Iterable[PairSum]) -> list[PairBalance]:
    """Every pair ``person_id`` has exchanged favours with, from their side, by the other's id."""
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0])
    for pair in pairs:
        if pair.giver_id == person_id:
            sums[pair.taker_id][0] += pair.weight
            sums[pair.taker_id][2] += pair.count
        elif pair.taker_id == person_id:
            sums[pair.giver_id][1] += pair.weight
            sums[pair.giver_id][3] += pair.count
    return [
        PairBalance(person_id, other, gave, got, int(gave_count), int(got_count))
        for other, (gave, got, gave_count, got_count) in sorted(sums.items())
    ]


def debts_of(
    person_id: int, pairs: Iterable[PairSum], names: dict[int, str]
) -> tuple[tuple[Debt, ...], tuple[Debt, ...]]:
    """Whom ``person_id`` owes and who owes them, named, largest first (then by name)."""

    def debt(pair: PairBalance) -> Debt:
        return Debt(
            person_id=pair.other_id,
            name=names.get(pair.other_id, f"#{pair.other_id}"),
            net=abs(pair.net),
            their_count=pair.got_count,
            your_count=pair.gave_count,
        )

    balances = pair_balances_of(person_id, pairs)
    owes = sorted((debt(p) for p in balances if p.net < 0), key=lambda d: (-d.net, d.name))
    owed_by = sorted((debt(p) for p in balances if p.net > 0), key=lambda d: (-d.net, d.name))
    return tuple(owes), tuple(owed_by)


REUSE_KIND = "reuse"  # a past answer reused instead of asking anyone (router.ledger.reuse)


def people_helped_by_reuse(
    session: Session, *, network_id: int, window: Window = Window()
) -> dict[int, int]:
    """How many different people each author's reused answers helped in ``window``."""
    rows = session.execute(
        select(Favour.giver_id, func.count(func.distinct(Favour.taker_id)))
        .where(Favour.network_id == network_id, Favour.kind == REUSE_KIND, *window.conditions())
        .group_by(Favour.giver_id)
    ).tuples()
    return {int(giver): int(count) for giver, count in rows}
