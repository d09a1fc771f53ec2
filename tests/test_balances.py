"""Favour arithmetic is written once: the ledger page, fairness in routing and the weekly summary
agree with each other and with a plain sum over the favours, on any history."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.errors import InvalidInput
from router.ledger.balances import RESOLUTION, PairSum, Window, pair_sums, pair_sums_of
from router.ledger.fairness import FairnessPolicy
from router.ledger.favours import FAVOUR_WEIGHTS, person_ledger, record_favour
from router.ledger.summary import build_weekly_summary
from router.ledger.weeks import iso_week, week_bounds
from router.network.people import ensure_network, ensure_person
from router.settings import Settings
from router.storage.database import Database

PEOPLE = 4
favour = st.tuples(
    st.integers(0, PEOPLE - 1),
    st.integers(1, PEOPLE - 1),  # offset to the taker, so never oneself
    st.sampled_from(sorted(FAVOUR_WEIGHTS)),
    st.integers(-30 * 24, 24),  # hours from now: a month back, and a little after now
)


def _network(database: Database, now: datetime) -> tuple[int, list[int]]:
    with database.transaction() as session:
        network = ensure_network(session, name=f"n-{uuid.uuid4().hex[:8]}", now=now)
        ids = [
            ensure_person(
                session,
                network_id=network.id,
                external_ids=[f"t:{i}"],
                display_name=f"P{i}",
                now=now,
            ).id
            for i in range(PEOPLE)
        ]
    return network.id, ids


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=st.lists(favour, max_size=25))
def test_ledger_fairness_and_summary_agree_on_any_history(
    database: Database, settings: Settings, now: datetime, history: list[tuple[int, int, str, int]]
) -> None:
    network_id, ids = _network(database, now)
    rows = []
    with database.transaction() as session:
        for n, (giver, offset, kind, hours) in enumerate(history):
            g, t = ids[giver], ids[(giver + offset) % PEOPLE]
            at = now + timedelta(hours=hours)
            record_favour(
                session,
                network_id=network_id,
                giver_id=g,
                taker_id=t,
                kind=kind,
                source_key=f"h{n}",
                now=at,
            )
            rows.append((g, t, kind, FAVOUR_WEIGHTS[kind], at))
    # the plain sums, as of now (favours after now are not in any view)
    given: dict[int, float] = defaultdict(float)
    received: dict[int, float] = defaultdict(float)
    net: dict[tuple[int, int], float] = defaultdict(float)
    for g, t, _, weight, at in rows:
        if at <= now:
            given[g] += weight
            received[t] += weight
            net[(g, t)] += weight
            net[(t, g)] -= weight
    policy = FairnessPolicy(settings=settings)
    with database.transaction() as session:
        summary = build_weekly_summary(session, network_id=network_id, now=now)
        fair_totals = policy._totals(session, network_id, ids, None, now)
        owed = policy._owed_to_asker(session, network_id, ids[0], ids[1:], now)
        sql_pairs = pair_sums(session, network_id=network_id, window=Window.as_of(now))
        for pid in ids:
            page = person_ledger(
                session, network_id=network_id, person_id=pid, until=now + RESOLUTION
            )
            mine = summary.person(pid)
            expected = (pytest.approx(given[pid]), pytest.approx(received[pid]))
            assert (page.totals.given, page.totals.received) == expected
            assert (mine.given_total.weight, mine.received_total.weight) == expected
            assert fair_totals.get(pid, (0.0, 0.0)) == expected
            page_debts = {d.person_id: -d.net for d in page.owes} | {
                d.person_id: d.net for d in page.owed_by
            }
            summary_debts = {d.person_id: -d.net for d in mine.owes} | {
                d.person_id: d.net for d in mine.owed_by
            }
            plain = {o: v for (p, o), v in net.items() if p == pid and abs(v) > 1e-9}
            assert page_debts == pytest.approx(plain)
            assert summary_debts == pytest.approx(plain)
    assert {o: v for o, v in owed.items() if abs(v) > 1e-9} == pytest.approx(
        {o: v for (p, o), v in net.items() if p == ids[0] and abs(v) > 1e-9}
    )

    def pairs(found: list[PairSum]) -> list[tuple[int, int, float, int]]:
        return [(p.giver_id, p.taker_id, round(p.weight, 6), p.count) for p in found]

    assert pairs(sql_pairs) == pairs(pair_sums_of(rows, Window.as_of(now)))


def test_a_window_is_half_open_and_as_of_includes_now(now: datetime) -> None:
    window = Window(since=now - timedelta(days=1), until=now)
    assert window.contains(now - timedelta(days=1)) and not window.contains(now)
    assert Window.as_of(now).contains(now)
    assert not Window.as_of(now).contains(now + RESOLUTION)


def test_a_window_that_ends_before_it_starts_is_refused(now: datetime) -> None:
    with pytest.raises(InvalidInput):
        Window(since=now, until=now - timedelta(seconds=1))


def test_the_weekly_summary_counts_this_week_from_monday_up_to_now(
    database: Database, now: datetime
) -> None:
    network_id, ids = _network(database, now)
    week_start, _ = week_bounds(iso_week(now + timedelta(days=2)))
    with database.transaction() as session:
        for n, at in enumerate(
            [week_start - RESOLUTION, week_start, now + timedelta(days=2), now + timedelta(days=3)]
        ):
            record_favour(
                session,
                network_id=network_id,
                giver_id=ids[0],
                taker_id=ids[1],
                kind="answer",
                source_key=f"w{n}",
                now=at,
            )
        summary = build_weekly_summary(session, network_id=network_id, now=now + timedelta(days=2))
    mine = summary.person(ids[0])
    assert (mine.given_week.count, mine.given_total.count) == (2, 3)
