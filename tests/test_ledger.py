"""The ledger: favours are counted once, in any window, and its invariants hold for any history."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from router.errors import InvalidInput, NotFound
from router.ledger.favours import (
    balances,
    network_totals,
    pair_balance,
    person_ledger,
    person_totals,
    record_favour,
)
from router.network.people import ensure_network, ensure_person
from router.storage.database import Database
from router.storage.schema import Favour


def _people(database: Database, now: datetime, names: list[str]) -> tuple[int, list[int]]:
    with database.transaction() as session:
        network = ensure_network(session, name=f"n-{uuid.uuid4().hex[:8]}", now=now)
        ids = [
            ensure_person(
                session,
                network_id=network.id,
                external_ids=[f"t:{name}"],
                display_name=name,
                now=now,
            ).id
            for name in names
        ]
        return network.id, ids


def test_favour_to_oneself_is_refused(database: Database, now: datetime) -> None:
    network_id, (ana,) = _people(database, now, ["Ana"])
    with database.transaction() as session, pytest.raises(InvalidInput, match="two different"):
        record_favour(
            session,
            network_id=network_id,
            giver_id=ana,
            taker_id=ana,
            kind="answer",
            source_key="x",
            now=now,
        )


def test_unknown_favour_kind_is_refused(database: Database, now: datetime) -> None:
    network_id, (ana, ben) = _people(database, now, ["Ana", "Ben"])
    with database.transaction() as session, pytest.raises(InvalidInput, match="kind"):
        record_favour(
            session,
            network_id=network_id,
            giver_id=ana,
            taker_id=ben,
            kind="bribe",
            source_key="x",
            now=now,
        )


def test_the_same_cause_recorded_twice_counts_once(database: Database, now: datetime) -> None:
    network_id, (ana, ben) = _people(database, now, ["Ana", "Ben"])
    for _ in range(2):
        with database.transaction() as session:
            record_favour(
                session,
                network_id=network_id,
                giver_id=ana,
                taker_id=ben,
                kind="answer",
                source_key="answer:1",
                now=now,
            )
    with database.transaction() as session:
        totals = person_totals(session, network_id=network_id, person_id=ana)
    assert (totals.given, totals.given_count, totals.received) == (1.0, 1, 0.0)


def test_totals_count_only_favours_inside_the_window(database: Database, now: datetime) -> None:
    network_id, (ana, ben) = _people(database, now, ["Ana", "Ben"])
    with database.transaction() as session:
        for day in range(4):
            record_favour(
                session,
                network_id=network_id,
                giver_id=ana,
                taker_id=ben,
                kind="answer",
                source_key=f"a{day}",
                now=now + timedelta(days=day),
            )
        week = person_totals(
            session,
            network_id=network_id,
            person_id=ben,
            since=now + timedelta(days=1),
            until=now + timedelta(days=3),
        )
    assert (week.received, week.received_count, week.given) == (2.0, 2, 0.0)


def test_helpful_and_thanks_add_weight_but_not_count(database: Database, now: datetime) -> None:
    network_id, (ana, ben) = _people(database, now, ["Ana", "Ben"])
    with database.transaction() as session:
        for kind in ("answer", "helpful", "thanks"):
            record_favour(
                session,
                network_id=network_id,
                giver_id=ana,
                taker_id=ben,
                kind=kind,
                source_key=f"{kind}:1",
                now=now,
            )
        totals = person_totals(session, network_id=network_id, person_id=ana)
    assert (totals.given, totals.given_count) == (2.25, 1)


def test_pair_balance_says_who_owes_whom(database: Database, now: datetime) -> None:
    network_id, (ana, ben) = _people(database, now, ["Ana", "Ben"])
    with database.transaction() as session:
        for i, (giver, taker) in enumerate([(ana, ben), (ana, ben), (ben, ana)]):
            record_favour(
                session,
                network_id=network_id,
                giver_id=giver,
                taker_id=taker,
                kind="answer",
                source_key=f"k{i}",
                now=now,
            )
        pair = pair_balance(session, network_id=network_id, person_id=ana, other_id=ben)
    assert (pair.gave, pair.got, pair.net, pair.debtor_id) == (2.0, 1.0, 1.0, ben)


def test_person_ledger_names_who_they_owe_and_who_owes_them(
    database: Database, now: datetime
) -> None:
    network_id, (ana, ben, cy) = _people(database, now, ["Ana", "Ben", "Cy"])
    with database.transaction() as session:
        for i, (giver, taker) in enumerate([(ana, ben), (ana, ben), (cy, ana)]):
            record_favour(
                session,
                network_id=network_id,
                giver_id=giver,
                taker_id=taker,
                kind="answer",
                source_key=f"k{i}",
                now=now,
            )
        page = person_ledger(session, network_id=network_id, person_id=ana)
    assert [(d.name, d.net, d.their_count) for d in page.owed_by] == [("Ben", 2.0, 0)]
    assert [(d.name, d.net, d.their_count) for d in page.owes] == [("Cy", 1.0, 1)]


def test_ledger_of_a_person_from_another_network_is_not_found(
    database: Database, now: datetime
) -> None:
    _, (ana,) = _people(database, now, ["Ana"])
    other_network, _ = _people(database, now, ["Ben"])
    with database.transaction() as session, pytest.raises(NotFound):
        person_ledger(session, network_id=other_network, person_id=ana)


KINDS = st.sampled_from(["answer", "helpful", "thanks", "history"])
FAVOURS = st.lists(
    st.tuples(
        st.integers(0, 4),  # giver
        st.integers(0, 4),  # taker (may equal the giver: must be refused)
        KINDS,
        st.integers(0, 12),  # cause; repeats must not count twice
        st.integers(0, 20),  # day
    ),
    max_size=40,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(favours=FAVOURS)
def test_ledger_invariants_hold_for_any_history(
    database: Database, now: datetime, favours: list[tuple[int, int, str, int, int]]
) -> None:
    network_id, people = _people(database, now, ["A", "B", "C", "D", "E"])
    expected: dict[str, tuple[int, int, str]] = {}
    with database.transaction() as session:
        for giver, taker, kind, cause, day in favours:
            key = f"{kind}:{cause}"
            if giver == taker:
                with pytest.raises(InvalidInput):
                    record_favour(
                        session,
                        network_id=network_id,
                        giver_id=people[giver],
                        taker_id=people[taker],
                        kind=kind,
                        source_key=key,
                        now=now,
                    )
                continue
            record_favour(
                session,
                network_id=network_id,
                giver_id=people[giver],
                taker_id=people[taker],
                kind=kind,
                source_key=key,
                now=now + timedelta(days=day),
            )
            expected.setdefault(key, (people[giver], people[taker], kind))

    with database.transaction() as session:
        rows = session.scalars(select(Favour).where(Favour.network_id == network_id)).all()
        assert all(row.giver_id != row.taker_id for row in rows)
        assert {row.source_key: (row.giver_id, row.taker_id, row.kind) for row in rows} == expected
        for since, until in [(None, None), (now + timedelta(days=5), now + timedelta(days=12))]:
            assert sum(
                balances(session, network_id=network_id, since=since, until=until).values()
            ) == pytest.approx(0.0, abs=1e-9)
        totals = network_totals(session, network_id=network_id)
        for a in people:
            for b in people:
                if a == b:
                    continue
                ab = pair_balance(session, network_id=network_id, person_id=a, other_id=b)
                ba = pair_balance(session, network_id=network_id, person_id=b, other_id=a)
                assert ab.net == pytest.approx(-ba.net)
                assert (ab.gave, ab.got) == (ba.got, ba.gave)
            mine = person_totals(session, network_id=network_id, person_id=a)
            assert mine == totals.get(a, mine)
