"""The give/take ledger: recording favours, and a person's or the network's view of them.

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

The arithmetic (windows ``[since, until)``, sums, totals, who owes whom) is
``router.ledger.balances``; the functions here read a window and name the people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic.dataclasses import dataclass as value
from sqlalchemy import select
from sqlalchemy.orm import Session

from router.errors import InvalidInput, NotFound
from router.ledger.balances import (
    COUNTED_KINDS,
    Debt,
    PairBalance,
    Totals,
    Window,
    debts_of,
    pair_balances_of,
    pair_sums,
    totals_of,
)
from router.storage.idempotency import insert_once
from router.storage.schema import Favour, Person
from router.values import json_of

__all__ = [
    "COUNTED_KINDS",
    "FAVOUR_WEIGHTS",
    "Debt",
    "PairBalance",
    "PersonLedger",
    "Totals",
    "balances",
    "network_totals",
    "pair_balance",
    "pair_balances",
    "person_ledger",
    "person_totals",
    "record_favour",
]

FAVOUR_WEIGHTS: dict[str, float] = {
    "answer": 1.0,
    "helpful": 1.0,
    "thanks": 0.25,
    "history": 1.0,
    "reuse": 0.5,  # a past answer reused instead of asking anyone (router.ledger.reuse)
}


@value(frozen=True)
class PersonLedger:
    """A person's page of the ledger: totals, whom they owe, and who owes them (largest first)."""

    person_id: int
    name: str
    totals: Totals
    owes: tuple[Debt, ...]  # people this person owes; Debt.their_count = what they gave us
    owed_by: tuple[Debt, ...]  # people who owe this person

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


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


def network_totals(
    session: Session,
    *,
    network_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[int, Totals]:
    """Given and received for everyone with a favour in [since, until), by person id."""
    return totals_of(pair_sums(session, network_id=network_id, window=Window(since, until)))


def person_totals(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Totals:
    """What one person gave and received in [since, until) (all time when both are None)."""
    pairs = pair_sums(
        session, network_id=network_id, window=Window(since, until), people=[person_id]
    )
    return totals_of(pairs).get(person_id, Totals())


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
    pairs = pair_sums(
        session,
        network_id=network_id,
        window=Window(since, until),
        between=(person_id, [other_id]),
    )
    found = pair_balances_of(person_id, pairs)
    return found[0] if found else PairBalance(person_id, other_id, 0.0, 0.0, 0, 0)


def pair_balances(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PairBalance]:
    """Every pair this person has exchanged favours with, seen from their side."""
    pairs = pair_sums(
        session, network_id=network_id, window=Window(since, until), people=[person_id]
    )
    return pair_balances_of(person_id, pairs)


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
    pairs = pair_sums(
        session, network_id=network_id, window=Window(since, until), people=[person_id]
    )
    others = {p.giver_id for p in pairs} | {p.taker_id for p in pairs}
    names = {
        int(pid): str(name)
        for pid, name in session.execute(
            select(Person.id, Person.display_name).where(Person.id.in_(others - {person_id}))
        ).tuples()
    }
    owes, owed_by = debts_of(person_id, pairs, names)
    return PersonLedger(
        person_id=person_id,
        name=person.display_name,
        totals=totals_of(pairs).get(person_id, Totals()),
        owes=owes,
        owed_by=owed_by,
    )
