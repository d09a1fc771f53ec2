"""Fair routing: budgets, rest, reciprocity and protection of heavy givers reweigh the route."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from router.evaluation.fairness_replay import replay_fairness
from router.ledger.fairness import FairnessPolicy, gini
from router.ledger.favours import record_favour
from router.lifecycle.questions import ask_question
from router.routing.route import Route
from router.routing.router import Router
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Ask, Favour, Network, Person, Question
from tests.network_builder import NetworkBuilder

SAME = "How do I keep a sourdough starter alive?|Feed it flour and water daily, keep it warm"
QUESTION = "How do I keep my sourdough starter alive?"


@pytest.fixture
def config(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"index_check_seconds": 0.0, "weekly_ask_budget": 3, "rest_hours": 12.0}
    )


@pytest.fixture
def net(database: Database, embedder: HashingEmbedder, now: datetime) -> NetworkBuilder:
    """Two bakers who know exactly the same, a third who knows less, and an asker."""
    net = NetworkBuilder(database, embedder, now)
    net.person("ann", SAME)
    net.person("bea", SAME)
    net.person("cal", "What flour for bread?|Strong bread flour, high protein")
    net.person("asker")
    return net


@pytest.fixture
def policy(config: Settings) -> FairnessPolicy:
    return FairnessPolicy(settings=config)


def _adjust(net: NetworkBuilder, policy: FairnessPolicy, *, hours: float = 0) -> dict[str, object]:
    with net.database.transaction() as session:
        adjustments = policy.adjust(
            session,
            network_id=net.network_id,
            asker_id=net.ids["asker"],
            person_ids=[net.ids[k] for k in ("ann", "bea", "cal")],
            now=net.now + timedelta(hours=hours),
        )
    by_name = {pid: key for key, pid in net.ids.items()}
    return {by_name[pid]: adjustment for pid, adjustment in adjustments.items()}


def _asked(net: NetworkBuilder, person: str, *, hours_ago: float) -> None:
    with net.database.transaction() as session:
        question = Question(
            network_id=net.network_id,
            asker_id=net.ids["asker"],
            text="q",
            k=1,
            status="open",
            round=1,
            created_at=net.now,
            expires_at=net.now + timedelta(days=7),
        )
        session.add(question)
        session.flush()
        session.add(
            Ask(
                network_id=net.network_id,
                question_id=question.id,
                person_id=net.ids[person],
                round=1,
                status="pending",
                created_at=net.now - timedelta(hours=hours_ago),
            )
        )


def _favour(session: Session, net: NetworkBuilder, giver: str, taker: str, key: str) -> None:
    record_favour(
        session,
        network_id=net.network_id,
        giver_id=net.ids[giver],
        taker_id=net.ids[taker],
        kind="answer",
        source_key=key,
        now=net.now - timedelta(days=1),
    )


def _route(database: Database, config: Settings, net: NetworkBuilder, *, k: int = 1) -> Route:
    router = Router(database=database, embedder=net.embedder, settings=config)
    with database.transaction() as session:
        return router.route(
            session,
            network_id=net.network_id,
            question=QUESTION,
            asker_id=net.ids["asker"],
            k=k,
            now=net.now,
            policy=FairnessPolicy(settings=config),
        )


def test_gini_is_zero_when_equal_and_grows_as_one_person_takes_all() -> None:
    assert gini([2, 2, 2, 2]) == 0.0
    assert gini([0, 0, 0, 8]) == pytest.approx(0.75)
    assert gini([]) == 0.0 and gini([0, 0]) == 0.0


def test_nobody_is_adjusted_without_load_or_ledger(
    net: NetworkBuilder, policy: FairnessPolicy
) -> None:
    assert _adjust(net, policy) == {}


def test_person_at_their_weekly_budget_is_left_out(
    net: NetworkBuilder, policy: FairnessPolicy
) -> None:
    for days in (1, 2, 3):
        _asked(net, "ann", hours_ago=24 * days)
    _asked(net, "bea", hours_ago=24 * 8)  # last week: does not count
    adjustments = _adjust(net, policy)
    assert adjustments["ann"].exclude  # type: ignore[attr-defined]
    assert adjustments["ann"].reason == "already asked 3 times this week (budget 3)"  # type: ignore[attr-defined]
    assert "bea" not in adjustments


def test_budget_is_the_persons_own_then_the_networks_then_the_default(
    net: NetworkBuilder, policy: FairnessPolicy
) -> None:
    _asked(net, "ann", hours_ago=24)
    _asked(net, "bea", hours_ago=24)
    with net.database.transaction() as session:
        session.execute(update(Network).values(weekly_ask_budget=1))
        session.execute(update(Person).where(Person.id == net.ids["bea"]).values(ask_budget=5))
        session.execute(update(Person).where(Person.id == net.ids["cal"]).values(ask_budget=0))
    adjustments = _adjust(net, policy)
    assert adjustments["ann"].exclude  # type: ignore[attr-defined]
    assert not adjustments["bea"].exclude  # type: ignore[attr-defined]
    assert adjustments["bea"].factor == pytest.approx(0.95)  # type: ignore[attr-defined]
    assert adjustments["cal"].reason == "has asked not to be asked"  # type: ignore[attr-defined]


def test_person_asked_a_few_hours_ago_is_resting(
    net: NetworkBuilder, policy: FairnessPolicy
) -> None:
    _asked(net, "ann", hours_ago=3)
    assert _adjust(net, policy)["ann"].reason == "resting: asked 3 hours ago"  # type: ignore[attr-defined]
    assert not _adjust(net, policy, hours=10)["ann"].exclude  # type: ignore[attr-defined]


def test_person_who_owes_the_asker_ranks_up_and_the_route_says_so(
    database: Database, config: Settings, net: NetworkBuilder
) -> None:
    before = _route(database, config, net)
    leader = before.candidates[0].name.lower()
    other = "bea" if leader == "ann" else "ann"
    with database.transaction() as session:
        _favour(session, net, "asker", other, "f1")
    after = _route(database, config, net)
    assert after.candidates[0].name.lower() == other
    assert after.adjusted
    assert "owes you 1 favour" in after.candidates[0].because()


def test_heavy_giver_is_protected_from_overload(
    database: Database, config: Settings, net: NetworkBuilder
) -> None:
    leader = _route(database, config, net).candidates[0].name.lower()
    with database.transaction() as session:
        for n in range(12):
            _favour(session, net, leader, "cal" if n % 2 else "asker", f"h{n}")
    after = _route(database, config, net, k=2)
    assert after.candidates[0].name.lower() != leader
    [protected] = [c for c in after.candidates if c.name.lower() == leader]
    assert "protected: gave 12 favours, received 0" in protected.because()
    assert after.adjusted


def test_fairness_spreads_a_burst_of_questions_over_people(
    database: Database, config: Settings, net: NetworkBuilder
) -> None:
    router = Router(database=database, embedder=net.embedder, settings=config)
    picked = []
    for n in range(3):
        with database.transaction() as session:
            route = router.route(
                session,
                network_id=net.network_id,
                question=QUESTION,
                asker_id=net.ids["asker"],
                k=1,
                now=net.now + timedelta(hours=n),
                policy=FairnessPolicy(settings=config),
            )
            person = route.candidates[0].person_id
            picked.append(person)
            question = Question(
                network_id=net.network_id,
                asker_id=net.ids["asker"],
                text=QUESTION,
                k=1,
                status="open",
                round=1,
                created_at=net.now,
                expires_at=net.now + timedelta(days=7),
            )
            session.add(question)
            session.flush()
            session.add(
                Ask(
                    network_id=net.network_id,
                    question_id=question.id,
                    person_id=person,
                    round=1,
                    status="pending",
                    created_at=net.now + timedelta(hours=n),
                )
            )
    assert len(set(picked)) == 3


SITE = Path(__file__).parent / "fixtures" / "stackexchange"


def test_fairness_replay_asks_k_people_per_question_both_ways_and_leaves_no_trace(
    database: Database, settings: Settings, embedder: HashingEmbedder
) -> None:
    replay = replay_fairness(
        folder=SITE, database=database, settings=settings, embedder=embedder, k=2
    )
    off, on = replay.runs
    assert (off.name, on.name) == ("fairness off", "fairness on")
    for run in replay.runs:
        assert run.cases == 3 and run.asks == 3 * 2
        assert 0.0 <= run.hit_at_k <= 1.0 and 1 <= run.max_week_asks <= run.asks
        assert 0.0 <= run.gini_asked <= run.gini_pool < 1.0
    assert off.adjusted == 0
    assert "fairness on" in replay.table()
    with database.transaction() as session:  # each run was rolled back
        assert session.scalar(select(func.count(Question.id))) == 0
        assert session.scalar(select(func.count(Favour.id))) == 0


def test_a_question_whose_clock_was_read_first_but_routed_second_sees_the_asks_of_the_other(
    database: Database, config: Settings, net: NetworkBuilder
) -> None:
    # Two requests at once: the later clock takes the ask lock first and asks someone; the
    # earlier clock routes next. The other's ask, stamped a moment "after" it, must still rest
    # that person (it counted only asks up to its own clock, and asked them twice).
    config = config.model_copy(update={"fairness": True})
    router = Router(database=database, embedder=net.embedder, settings=config)
    asked = []
    for clock in (net.now + timedelta(seconds=1), net.now):
        with database.transaction() as session:
            result = ask_question(
                session,
                router=router,
                settings=config,
                network_id=net.network_id,
                asker_id=net.ids["asker"],
                text=QUESTION,
                now=clock,
                k=1,
            )
            asked += [ask.person_id for ask in result.question.asks]
    assert len(asked) == 2 and asked[0] != asked[1], asked
