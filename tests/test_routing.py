"""Routing behaviour on small networks with the deterministic hashing embedder."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from router.errors import InvalidInput
from router.network import people
from router.routing.route import Adjustment
from router.routing.router import Router
from router.search.backfill import embed_pending
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence, EvidenceChange, ExternalId, Person
from tests.network_builder import NetworkBuilder


@pytest.fixture
def instant(settings: Settings) -> Settings:
    return settings.model_copy(update={"index_check_seconds": 0.0})


@pytest.fixture
def net(database: Database, embedder: HashingEmbedder, now: datetime) -> NetworkBuilder:
    net = NetworkBuilder(database, embedder, now)
    net.person(
        "grace",
        "How do you monitor Kubernetes clusters?|We run Prometheus and Grafana dashboards with alerting",
        "Which dashboard tool for metrics?|Grafana, it reads Prometheus natively",
    )
    net.person(
        "linus", "Best way to model data in the warehouse?|dbt models with tests, on Snowflake"
    )
    net.person("ada", "How to take card payments online?|Stripe checkout with webhooks for refunds")
    net.person("asker")
    return net


@pytest.fixture
def router(database: Database, embedder: HashingEmbedder, instant: Settings) -> Router:
    return Router(database=database, embedder=embedder, settings=instant)


def names(route_result: object) -> list[str]:
    return [c.name for c in route_result.candidates]  # type: ignore[attr-defined]


def ask(
    router: Router,
    net: NetworkBuilder,
    question: str,
    *,
    asker: str | None = "asker",
    k: int = 3,
    **kw: object,
):  # type: ignore[no-untyped-def]
    with net.database.transaction() as session:
        return router.route(
            session,
            network_id=net.network_id,
            question=question,
            asker_id=net.ids[asker] if asker else None,
            k=k,
            now=net.now,
            **kw,  # type: ignore[arg-type]
        )


def test_person_whose_answers_match_the_question_ranks_first(
    router: Router, net: NetworkBuilder
) -> None:
    assert (
        names(ask(router, net, "what dashboard do you use for Prometheus metrics?"))[0] == "Grace"
    )
    assert names(ask(router, net, "how should we take payments with Stripe?"))[0] == "Ada"


def test_rare_tool_name_is_found_by_lexical_search(router: Router, net: NetworkBuilder) -> None:
    result = ask(router, net, "dbt?")
    assert names(result)[0] == "Linus"
    assert result.candidates[0].reasons[0].kind == "evidence"


def test_every_candidate_explains_itself_with_the_evidence_that_matched(
    router: Router, net: NetworkBuilder
) -> None:
    top = ask(router, net, "which Grafana dashboards for monitoring?").candidates[0]
    evidence = [r for r in top.reasons if r.kind == "evidence"]
    assert evidence, top.reasons
    assert "Grafana" in (evidence[0].snippet or "")
    assert evidence[0].source == "test" and evidence[0].date is not None
    assert evidence[0].text.startswith("answered")
    assert "answered" in top.because()


def test_asker_is_never_returned_even_when_they_match_best(
    router: Router, net: NetworkBuilder
) -> None:
    result = ask(router, net, "Grafana dashboards for Prometheus", asker="grace", k=10)
    assert "Grace" not in names(result)


def test_opted_out_deactivated_and_snoozed_people_are_never_returned(
    router: Router, net: NetworkBuilder, now: datetime
) -> None:
    with net.database.transaction() as session:
        session.execute(update(Person).where(Person.id == net.ids["grace"]).values(opted_out=True))
        session.execute(
            update(Person)
            .where(Person.id == net.ids["ada"])
            .values(snoozed_until=now + timedelta(days=1))
        )
        session.execute(
            update(Person).where(Person.id == net.ids["linus"]).values(deactivated=True)
        )
    result = ask(router, net, "Grafana Stripe dbt", k=10)
    assert not {"Grace", "Ada", "Linus"} & set(names(result))
    assert result.notes


def test_a_snooze_that_has_ended_makes_the_person_available_again(
    router: Router, net: NetworkBuilder, now: datetime
) -> None:
    with net.database.transaction() as session:
        session.execute(
            update(Person)
            .where(Person.id == net.ids["ada"])
            .values(snoozed_until=now - timedelta(hours=1))
        )
    assert names(ask(router, net, "Stripe payments"))[0] == "Ada"


def test_an_unknown_asker_is_a_newcomer_not_an_error(router: Router, net: NetworkBuilder) -> None:
    assert names(ask(router, net, "Stripe payments", asker=None))[0] == "Ada"


def test_excluded_people_are_skipped(router: Router, net: NetworkBuilder) -> None:
    result = ask(router, net, "Stripe payments", exclude=frozenset({net.ids["ada"]}))
    assert "Ada" not in names(result)


def test_closeness_to_the_asker_lifts_a_person_and_is_explained(
    router: Router, net: NetworkBuilder
) -> None:
    same = "How do I profile slow Postgres queries?|EXPLAIN ANALYZE and pg_stat_statements"
    net.person("hopper", same)
    net.person("turing", same)
    before = names(ask(router, net, "profile slow Postgres queries"))
    assert before.index("Hopper") < before.index("Turing")  # equal evidence: stable order by id
    net.tie("turing", "asker", times=3)
    after = ask(router, net, "profile slow Postgres queries")
    assert after.candidates[0].name == "Turing"
    social = [r for r in after.candidates[0].reasons if r.kind == "social"]
    assert social and "3 favours" in social[0].text


def test_bad_questions_and_k_are_refused_with_a_reason(router: Router, net: NetworkBuilder) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        ask(router, net, "   ")
    with pytest.raises(InvalidInput, match="limit"):
        ask(router, net, "x" * 40_001)
    with pytest.raises(InvalidInput, match="k must be"):
        ask(router, net, "Stripe", k=0)


def test_index_follows_evidence_added_and_deleted_after_the_first_route(
    router: Router, net: NetworkBuilder
) -> None:
    assert "Zed" not in names(ask(router, net, "terraform modules for aws"))
    net.person("zed", "How to manage infrastructure?|Terraform modules for AWS accounts")
    assert names(ask(router, net, "terraform modules for aws"))[0] == "Zed"
    with net.database.transaction() as session:
        for row in session.scalars(select(Evidence).where(Evidence.person_id == net.ids["zed"])):
            people.delete_evidence(session, network_id=net.network_id, evidence_id=row.id)
    assert "Zed" not in names(ask(router, net, "terraform modules for aws"))


def test_declined_evidence_weighs_less(router: Router, net: NetworkBuilder) -> None:
    net.person(
        "hopper",
        "How do you monitor Kubernetes clusters?|We run Prometheus and Grafana dashboards with alerting",
    )
    first = names(ask(router, net, "Prometheus Grafana Kubernetes monitoring alerting", k=2))
    loser = first[0]
    with net.database.transaction() as session:
        session.execute(
            update(Evidence).where(Evidence.person_id == net.ids[loser.lower()]).values(weight=0.1)
        )
    assert (
        names(ask(router, net, "Prometheus Grafana Kubernetes monitoring alerting", k=2))[0]
        != loser
    )


def test_changing_the_model_re_embeds_instead_of_mixing_vector_spaces(
    database: Database, net: NetworkBuilder, instant: Settings
) -> None:
    other = HashingEmbedder(dimension=64, name="hashing-other")
    with database.transaction() as session:
        assert embed_pending(session, network_id=net.network_id, embedder=other) == 4
        assert embed_pending(session, network_id=net.network_id, embedder=other) == 0
        models = set(session.scalars(select(Evidence.embedding_model)))
    assert models == {"hashing-other"}
    result = ask(
        Router(database=database, embedder=other, settings=instant), net, "Stripe payments"
    )
    assert names(result)[0] == "Ada"
    assert not result.notes


def test_after_a_model_change_a_route_says_the_vectors_are_missing(
    database: Database, net: NetworkBuilder, instant: Settings
) -> None:
    net.person(
        "archivist", *[f"Old question {n}?|An old answer about topic {n}" for n in range(70)]
    )
    other = HashingEmbedder(dimension=64, name="hashing-other")
    result = ask(
        Router(database=database, embedder=other, settings=instant), net, "Stripe payments"
    )
    assert any("reembed" in note for note in result.notes)
    assert "Ada" in names(result)  # lexical search still finds her
    with database.transaction() as session:
        stale = session.scalar(
            select(func.count(Evidence.id)).where(Evidence.embedding_model != "hashing-other")
        )
    assert stale == 74  # too many to embed on the way: left for `askaround reembed`


def test_a_few_rows_without_vectors_are_embedded_in_memory_and_a_route_writes_nothing(
    database: Database, net: NetworkBuilder, instant: Settings
) -> None:
    other = HashingEmbedder(dimension=64, name="hashing-other")
    with database.transaction() as session:
        changes = session.scalar(select(func.count(EvidenceChange.seq)))
    result = ask(
        Router(database=database, embedder=other, settings=instant), net, "Stripe payments"
    )
    assert not result.notes and names(result)[0] == "Ada"
    with database.transaction() as session:
        assert set(session.scalars(select(Evidence.embedding_model))) == {"hashing-test"}
        assert session.scalar(select(func.count(EvidenceChange.seq))) == changes


def test_index_is_saved_and_a_new_process_loads_it(
    database: Database, embedder: HashingEmbedder, net: NetworkBuilder, instant: Settings
) -> None:
    first = Router(database=database, embedder=embedder, settings=instant)
    ask(first, net, "Stripe")
    assert list(Path(instant.index_dir).glob("*.index")) == []  # never saved on a route
    assert first.indexes.save_changed() == 1
    saved = list(Path(instant.index_dir).glob("*.index"))
    assert len(saved) == 1 and not list(Path(instant.index_dir).glob("*.tmp"))
    fresh = Router(database=database, embedder=embedder, settings=instant)
    assert names(ask(fresh, net, "Stripe payments"))[0] == "Ada"


class _Protect:
    def __init__(self, person_id: int, exclude: bool) -> None:
        self.person_id = person_id
        self.exclude = exclude

    def adjust(self, session, *, network_id, asker_id, person_ids, now):  # type: ignore[no-untyped-def]
        return {
            self.person_id: Adjustment(
                factor=0.01, reason="asked 3 times this week", exclude=self.exclude
            )
        }


def test_a_policy_that_reorders_is_reported_and_explained(
    router: Router, net: NetworkBuilder
) -> None:
    result = ask(
        router,
        net,
        "Stripe payments and Grafana",
        k=2,
        policy=_Protect(net.ids["ada"], exclude=False),
    )
    assert result.adjusted
    ada = [c for c in result.candidates if c.name == "Ada"]
    assert not ada or any(r.kind == "fairness" for r in ada[0].reasons)
    dropped = ask(router, net, "Stripe payments", policy=_Protect(net.ids["ada"], exclude=True))
    assert "Ada" not in names(dropped)


def test_a_candidate_is_shown_by_the_first_id_attached_or_by_number_without_one(
    router: Router, net: NetworkBuilder, database: Database
) -> None:
    """The id a route shows is the first one attached to the person (not the newest, not a
    random one), and a person with none is shown as ``person:<id>``."""
    grace = net.ids["grace"]
    with database.transaction() as session:
        session.add(ExternalId(network_id=net.network_id, person_id=grace, value="slack:U0GRACE"))
        session.execute(delete(ExternalId).where(ExternalId.person_id == net.ids["linus"]))
    shown = {c.name: c.external_id for c in ask(router, net, "Grafana dashboards? dbt?").candidates}
    assert shown["Grace"] == "t:grace"
    assert shown["Linus"] == f"person:{net.ids['linus']}"
