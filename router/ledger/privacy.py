"""The ledger as each person may see it: an anonymous asker is never named to the people who
answered them.

An answer to an anonymous question is still a favour from the answerer to the asker (balances
and fairness need it), but the answerer never learned who asked. So, seen from the answerer's
side, those favours are pooled under one unnamed counterpart (``ANONYMOUS``) instead of the
asker, in the ledger page, in a pair's balance and in "owes you" reasons. The asker, who knows
who answered, sees their side as it is. ``named_favours`` is the one rule; every view uses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from router.ledger.balances import PairSum, Window
from router.ledger.favours import (
    COUNTED_KINDS,
    Debt,
    PairBalance,
    PersonLedger,
    pair_balance,
    pair_balances,
    person_ledger,
)
from router.storage.schema import Answer, Favour, Person, Question

ANONYMOUS = "someone who asked anonymously"
ANONYMOUS_ID = 0  # the pooled counterpart has no person id
EVEN = 1e-9  # what is left of a pair after taking the hidden favours out, as float noise


def from_anonymous_question() -> ColumnElement[bool]:
    """True for a favour earned by answering an anonymous question (its taker is hidden)."""
    return exists(
        select(Answer.id)
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.id == Favour.answer_id, Question.anonymous.is_(True))
    )


def named_favours() -> ColumnElement[bool]:
    """Favours whose taker the giver may know: all but those from anonymous questions."""
    return or_(Favour.answer_id.is_(None), not_(from_anonymous_question()))


def _hidden(
    session: Session,
    *,
    network_id: int,
    giver_id: int,
    taker_id: int | None = None,
    since: datetime | None,
    until: datetime | None,
) -> dict[int, tuple[float, int]]:
    """Weight and answer count ``giver_id`` gave to anonymous askers, by (hidden) taker."""
    conditions = [
        Favour.network_id == network_id,
        Favour.giver_id == giver_id,
        from_anonymous_question(),
    ]
    if taker_id is not None:
        conditions.append(Favour.taker_id == taker_id)
    if since is not None:
        conditions.append(Favour.created_at >= since)
    if until is not None:
        conditions.append(Favour.created_at < until)
    counted = func.sum(case((Favour.kind.in_(COUNTED_KINDS), 1), else_=0))
    rows = session.execute(
        select(Favour.taker_id, func.sum(Favour.weight), counted)
        .where(and_(*conditions))
        .group_by(Favour.taker_id)
    ).tuples()
    return {int(t): (float(w or 0.0), int(c or 0)) for t, w, c in rows}


def hidden_given(
    session: Session, *, network_id: int, giver_id: int, window: Window
) -> dict[int, float]:
    """What ``giver_id`` gave each anonymous asker in ``window`` (those takers stay unnamed)."""
    hidden = _hidden(
        session,
        network_id=network_id,
        giver_id=giver_id,
        since=window.since,
        until=window.until,
    )
    return {taker: weight for taker, (weight, _) in hidden.items()}


def hidden_pair_sums(session: Session, *, network_id: int, window: Window) -> list[PairSum]:
    """Sums per (giver, taker) of the favours earned answering anonymous questions in ``window``:
    the part of ``pair_sums`` each giver may not see named."""
    counted = func.sum(case((Favour.kind.in_(COUNTED_KINDS), 1), else_=0))
    rows = session.execute(
        select(Favour.giver_id, Favour.taker_id, func.sum(Favour.weight), counted)
        .where(Favour.network_id == network_id, *window.conditions(), from_anonymous_question())
        .group_by(Favour.giver_id, Favour.taker_id)
        .order_by(Favour.giver_id, Favour.taker_id)
    ).all()
    return [PairSum(int(g), int(t), float(w or 0.0), int(c or 0)) for g, t, w, c in rows]


def hidden_of(person_id: int, hidden: Iterable[PairSum]) -> dict[int, tuple[float, int]]:
    """Weight and answer count ``person_id`` gave each anonymous asker, from ``hidden_pair_sums``."""
    return {p.taker_id: (p.weight, p.count) for p in hidden if p.giver_id == person_id}


def visible_debts(
    pairs: Iterable[PairBalance],
    hidden: dict[int, tuple[float, int]],
    names: dict[int, str],
) -> tuple[tuple[Debt, ...], tuple[Debt, ...]]:
    """Whom a person owes and who owes them, largest first, with what they gave anonymous askers
    (``hidden``: weight and count by taker) pooled under ``ANONYMOUS`` instead of the askers."""
    debts = []  # (other, name, net > 0 when they owe this person, their count, your count)
    for pair in pairs:
        weight, count = hidden.get(pair.other_id, (0.0, 0))
        debts.append(
            (
                pair.other_id,
                names.get(pair.other_id, f"#{pair.other_id}"),
                pair.net - weight,
                pair.got_count,
                pair.gave_count - count,
            )
        )
    if hidden:
        debts.append(
            (
                ANONYMOUS_ID,
                ANONYMOUS,
                sum(weight for weight, _ in hidden.values()),
                0,
                sum(count for _, count in hidden.values()),
            )
        )
    owes = [Debt(o, n, -net, t, y) for o, n, net, t, y in debts if net < -EVEN]
    owed_by = [Debt(o, n, net, t, y) for o, n, net, t, y in debts if net > EVEN]
    return (
        tuple(sorted(owes, key=lambda d: (-d.net, d.name))),
        tuple(sorted(owed_by, key=lambda d: (-d.net, d.name))),
    )


def visible_pair_balance(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    other_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> PairBalance:
    """``pair_balance`` without what ``person_id`` gave ``other_id`` as an anonymous asker."""
    pair = pair_balance(
        session,
        network_id=network_id,
        person_id=person_id,
        other_id=other_id,
        since=since,
        until=until,
    )
    weight, count = _hidden(
        session,
        network_id=network_id,
        giver_id=person_id,
        taker_id=other_id,
        since=since,
        until=until,
    ).get(other_id, (0.0, 0))
    return PairBalance(
        person_id=person_id,
        other_id=other_id,
        gave=pair.gave - weight,
        got=pair.got,
        gave_count=pair.gave_count - count,
        got_count=pair.got_count,
    )


def visible_ledger(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> PersonLedger:
    """A person's ledger page in which the askers they answered anonymously stay unnamed."""
    page = person_ledger(
        session, network_id=network_id, person_id=person_id, since=since, until=until
    )
    hidden = _hidden(session, network_id=network_id, giver_id=person_id, since=since, until=until)
    if not hidden:
        return page
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
    owes, owed_by = visible_debts(pairs, hidden, names)
    return PersonLedger(
        person_id=page.person_id,
        name=page.name,
        totals=page.totals,
        owes=owes,
        owed_by=owed_by,
    )
