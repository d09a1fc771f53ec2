"""The question lifecycle on a small network, with the real router and the hashing embedder."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from router.errors import Conflict, InvalidInput, PermissionDenied
from router.ledger.favours import person_totals
from router.lifecycle.questions import (
    AskedQuestion,
    answer_ask,
    ask_question,
    close_question,
    decline_ask,
    get_question,
    mark_helpful,
    pass_ask,
    pending_asks,
    question_history,
    snooze_person,
    thank_answer,
    tick,
)
from router.routing.router import Router
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Answer, Evidence, Favour, OutboxMessage, Question
from tests.network_builder import NetworkBuilder

QUESTION = "How should we monitor our Kubernetes cluster, Prometheus alerts or Grafana?"


@pytest.fixture
def config(settings: Settings) -> Settings:
    """Fairness off: these tests are about the lifecycle, not about load."""
    return settings.model_copy(
        update={"index_check_seconds": 0.0, "fairness": False, "max_rounds": 3}
    )


@pytest.fixture
def net(database: Database, embedder: HashingEmbedder, now: datetime) -> NetworkBuilder:
    net = NetworkBuilder(database, embedder, now)
    net.person("grace", "How do you monitor Kubernetes clusters?|Prometheus and Grafana alerts")
    net.person("bob", "Alerting on a Kubernetes cluster?|Prometheus alertmanager rules for pods")
    net.person("cy", "Which dashboards for Kubernetes monitoring?|Grafana dashboards on Prometheus")
    net.person("dee", "Monitor Kubernetes logs?|Loki next to Prometheus, shown in Grafana")
    net.person("ada", "How to take card payments online?|Stripe checkout with webhooks")
    net.person("asker")
    return net


@pytest.fixture
def router(database: Database, embedder: HashingEmbedder, config: Settings) -> Router:
    return Router(database=database, embedder=embedder, settings=config)


def _ask(
    router: Router, config: Settings, net: NetworkBuilder, *, k: int = 2, **kw: object
) -> AskedQuestion:
    with net.database.transaction() as session:
        return ask_question(
            session,
            router=router,
            settings=config,
            network_id=net.network_id,
            asker_id=net.ids["asker"],
            text=kw.pop("text", QUESTION),  # type: ignore[arg-type]
            now=kw.pop("now", net.now),  # type: ignore[arg-type]
            k=k,
            **kw,  # type: ignore[arg-type]
        )


def _messages(database: Database, kind: str) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def _answer(net: NetworkBuilder, ask_id: int, person_id: int, text: str = "Use Prometheus") -> int:
    with net.database.transaction() as session:
        return answer_ask(
            session,
            network_id=net.network_id,
            ask_id=ask_id,
            person_id=person_id,
            text=text,
            now=net.now + timedelta(hours=1),
        ).id


def _tick(router: Router, config: Settings, net: NetworkBuilder, hours: float) -> None:
    with net.database.transaction() as session:
        tick(session, router=router, settings=config, now=net.now + timedelta(hours=hours))


def test_asking_picks_the_best_people_and_queues_one_message_each(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    people = {ask.person_name for ask in asked.question.asks}
    assert len(people) == 2 and people <= {"Grace", "Bob", "Cy", "Dee"}
    assert all(ask.status == "pending" and ask.reasons for ask in asked.question.asks)
    messages = _messages(net.database, "ask")
    assert sorted(m.recipient_id or 0 for m in messages) == sorted(
        a.person_id for a in asked.question.asks
    )
    assert messages[0].payload["question"] == QUESTION
    assert messages[0].payload["asker"] == "Asker"
    assert messages[0].payload["because"]


def test_anonymous_question_hides_the_asker_from_the_people_asked(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    _ask(router, config, net, anonymous=True)
    assert {m.payload["asker"] for m in _messages(net.database, "ask")} == {None}


def test_empty_or_oversized_question_is_refused_and_nothing_is_stored(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    for text in ["   ", "x" * (config.max_question_chars + 1)]:
        with pytest.raises(InvalidInput):
            _ask(router, config, net, text=text)
    with net.database.transaction() as session:
        assert session.scalar(select(func.count(Question.id))) == 0


def test_answer_is_delivered_to_the_asker_and_counted_as_a_favour(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    first = asked.question.asks[0]
    _answer(net, first.id, first.person_id)
    [message] = _messages(net.database, "answer")
    assert message.recipient_id == net.ids["asker"]
    assert message.payload["answer"] == "Use Prometheus"
    with net.database.transaction() as session:
        question = get_question(session, network_id=net.network_id, question_id=asked.question.id)
        totals = person_totals(session, network_id=net.network_id, person_id=first.person_id)
    assert question.status == "answered"
    assert [a.status for a in question.asks] == ["answered", "pending"]
    assert (totals.given, totals.given_count) == (1.0, 1)


def test_answering_twice_stores_one_answer_one_favour_and_one_message(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    ask = _ask(router, config, net).question.asks[0]
    first = _answer(net, ask.id, ask.person_id)
    second = _answer(net, ask.id, ask.person_id, text="a different second click")
    assert first == second
    with net.database.transaction() as session:
        assert session.scalar(select(func.count(Favour.id))) == 1
    assert len(_messages(net.database, "answer")) == 1


def test_answering_again_with_other_text_is_a_conflict_when_asked_to_refuse_it(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    ask = _ask(router, config, net).question.asks[0]
    first = _answer(net, ask.id, ask.person_id, text="Use Prometheus")
    again = {"network_id": net.network_id, "ask_id": ask.id, "person_id": ask.person_id}
    with net.database.transaction() as session, pytest.raises(Conflict, match="already answered"):
        answer_ask(session, text="Use Datadog", now=net.now, refuse_other_text=True, **again)
    with net.database.transaction() as session:
        retry = answer_ask(
            session, text=" Use Prometheus ", now=net.now, refuse_other_text=True, **again
        )
        assert retry.id == first and retry.text == "Use Prometheus"
        assert session.scalars(select(Answer.text)).all() == ["Use Prometheus"]
        assert session.scalar(select(func.count(Favour.id))) == 1
    assert len(_messages(net.database, "answer")) == 1


def test_only_the_person_asked_can_answer(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    ask = _ask(router, config, net).question.asks[0]
    with pytest.raises(PermissionDenied):
        _answer(net, ask.id, net.ids["ada"])


def test_answering_a_closed_question_is_a_conflict(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    with net.database.transaction() as session:
        close_question(
            session,
            network_id=net.network_id,
            question_id=asked.question.id,
            person_id=net.ids["asker"],
            now=net.now,
        )
    ask = asked.question.asks[0]
    with pytest.raises(Conflict, match="closed"):
        _answer(net, ask.id, ask.person_id)


def test_closing_withdraws_pending_asks_and_tells_those_people(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    with net.database.transaction() as session:
        closed = close_question(
            session,
            network_id=net.network_id,
            question_id=asked.question.id,
            person_id=net.ids["asker"],
            now=net.now,
        )
        assert (
            pending_asks(
                session, network_id=net.network_id, person_id=asked.question.asks[0].person_id
            )
            == []
        )
    assert closed.status == "closed"
    assert {a.status for a in closed.asks} == {"expired"}
    assert len(_messages(net.database, "closed")) == 2


def test_only_the_asker_can_close_or_mark_helpful(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    ask = asked.question.asks[0]
    answer_id = _answer(net, ask.id, ask.person_id)
    with net.database.transaction() as session, pytest.raises(PermissionDenied):
        close_question(
            session,
            network_id=net.network_id,
            question_id=asked.question.id,
            person_id=ask.person_id,
            now=net.now,
        )
    with net.database.transaction() as session, pytest.raises(PermissionDenied):
        mark_helpful(
            session,
            network_id=net.network_id,
            answer_id=answer_id,
            person_id=ask.person_id,
            now=net.now,
        )


def test_helpful_and_thanks_add_their_favours_once_and_tell_the_answerer(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    ask = _ask(router, config, net).question.asks[0]
    answer_id = _answer(net, ask.id, ask.person_id)
    for _ in range(2):
        with net.database.transaction() as session:
            view = mark_helpful(
                session,
                network_id=net.network_id,
                answer_id=answer_id,
                person_id=net.ids["asker"],
                now=net.now,
            )
            thank_answer(
                session,
                network_id=net.network_id,
                answer_id=answer_id,
                person_id=net.ids["asker"],
                now=net.now,
            )
    assert view.helpful
    with net.database.transaction() as session:
        totals = person_totals(session, network_id=net.network_id, person_id=ask.person_id)
    assert totals.given == 2.25
    assert [m.recipient_id for m in _messages(net.database, "helpful")] == [ask.person_id]
    assert len(_messages(net.database, "thanks")) == 1


def test_passing_an_answered_ask_is_a_conflict_and_passing_twice_is_harmless(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    answered, other = asked.question.asks
    _answer(net, answered.id, answered.person_id)
    with net.database.transaction() as session, pytest.raises(Conflict, match="answered"):
        pass_ask(
            session,
            network_id=net.network_id,
            ask_id=answered.id,
            person_id=answered.person_id,
            now=net.now,
        )
    for _ in range(2):
        with net.database.transaction() as session:
            view = pass_ask(
                session,
                network_id=net.network_id,
                ask_id=other.id,
                person_id=other.person_id,
                now=net.now,
            )
    assert view.status == "passed"


def test_unanswered_question_goes_to_the_next_best_people_after_the_timeout(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    first_round = {a.person_id for a in asked.question.asks}
    _tick(router, config, net, hours=config.answer_timeout_hours - 1)
    with net.database.transaction() as session:
        assert (
            get_question(session, network_id=net.network_id, question_id=asked.question.id).round
            == 1
        )
    _tick(router, config, net, hours=config.answer_timeout_hours)
    with net.database.transaction() as session:
        question = get_question(session, network_id=net.network_id, question_id=asked.question.id)
    second_round = {a.person_id for a in question.asks if a.round == 2}
    assert question.round == 2
    assert len(second_round) == 2 and not second_round & first_round
    assert net.ids["asker"] not in second_round
    assert [m.recipient_id for m in _messages(net.database, "escalated")] == [net.ids["asker"]]


def test_person_who_passed_is_not_asked_again(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    for ask in asked.question.asks:
        with net.database.transaction() as session:
            pass_ask(
                session,
                network_id=net.network_id,
                ask_id=ask.id,
                person_id=ask.person_id,
                now=net.now,
            )
    for hours in (0, 24, 48, 72):  # everyone said no: the very next tick escalates
        _tick(router, config, net, hours=hours)
    with net.database.transaction() as session:
        question = get_question(session, network_id=net.network_id, question_id=asked.question.id)
    asked_ids = [a.person_id for a in question.asks]
    assert len(asked_ids) == len(set(asked_ids))
    assert question.round == config.max_rounds
    assert question.asks[2].round == 2 and question.asks[2].created_at == question.created_at


def test_escalation_stops_after_the_last_round(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    config = config.model_copy(update={"max_rounds": 2})
    asked = _ask(router, config, net, k=1)
    for day in range(1, 5):
        _tick(router, config, net, hours=24 * day)
    with net.database.transaction() as session:
        history = question_history(
            session, network_id=net.network_id, question_id=asked.question.id
        )
    assert history.question.round == 2
    assert len(history.question.asks) == 2
    assert [e.kind for e in history.events].count("rounds_exhausted") == 1


def test_declining_halves_the_weight_of_the_evidence_that_matched(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    ask = _ask(router, config, net).question.asks[0]
    matched = [r.evidence_id for r in ask.reasons if r.evidence_id is not None]
    assert matched
    with net.database.transaction() as session:
        decline_ask(
            session,
            network_id=net.network_id,
            ask_id=ask.id,
            person_id=ask.person_id,
            now=net.now,
        )
        decline_ask(  # a second click does not halve it again
            session,
            network_id=net.network_id,
            ask_id=ask.id,
            person_id=ask.person_id,
            now=net.now,
        )
    with net.database.transaction() as session:
        weights = session.scalars(select(Evidence.weight).where(Evidence.id.in_(matched))).all()
    assert set(weights) == {0.5}


def test_snoozed_person_is_not_asked_until_the_snooze_ends(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    first = _ask(router, config, net, k=1).question.asks[0]
    with net.database.transaction() as session:
        snooze_person(
            session,
            network_id=net.network_id,
            person_id=first.person_id,
            until=net.now + timedelta(days=2),
            now=net.now,
            ask_id=first.id,
        )
    during = _ask(router, config, net, k=1, now=net.now + timedelta(days=1)).question.asks
    after = _ask(router, config, net, k=1, now=net.now + timedelta(days=3)).question.asks
    assert during[0].person_id != first.person_id
    assert after[0].person_id == first.person_id


def test_question_expires_and_the_asker_is_told(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    _tick(router, config, net, hours=config.question_ttl_days * 24)
    with net.database.transaction() as session:
        question = get_question(session, network_id=net.network_id, question_id=asked.question.id)
    assert question.status == "expired"
    assert all(a.status == "expired" for a in question.asks if a.round == 1)
    [message] = _messages(net.database, "expired")
    assert message.recipient_id == net.ids["asker"]
    ask = question.asks[0]
    with pytest.raises(Conflict, match="expired"):
        _answer(net, ask.id, ask.person_id)


def test_history_shows_every_state_change_in_order(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net)
    ask = asked.question.asks[0]
    answer_id = _answer(net, ask.id, ask.person_id)
    with net.database.transaction() as session:
        mark_helpful(
            session,
            network_id=net.network_id,
            answer_id=answer_id,
            person_id=net.ids["asker"],
            now=net.now + timedelta(hours=2),
        )
        close_question(
            session,
            network_id=net.network_id,
            question_id=asked.question.id,
            person_id=net.ids["asker"],
            now=net.now + timedelta(hours=3),
        )
        history = question_history(
            session, network_id=net.network_id, question_id=asked.question.id
        )
    assert [e.kind for e in history.events] == [
        "created",
        "asked",
        "asked",
        "answered",
        "helpful",
        "closed",
    ]
    assert [e.at for e in history.events] == sorted(e.at for e in history.events)
    assert history.events[3].actor_name == ask.person_name
    assert history.as_dict()["question"]["status"] == "closed"


def test_an_answer_given_here_becomes_private_evidence_for_the_next_question(
    router: Router, config: Settings, net: NetworkBuilder
) -> None:
    asked = _ask(router, config, net, text="Which terraform layout for many AWS accounts?", k=1)
    ask = asked.question.asks[0]
    _answer(net, ask.id, ask.person_id, text="Terragrunt with one module per account, state in S3")
    with net.database.transaction() as session:
        evidence = session.scalars(select(Evidence).where(Evidence.source == "askaround")).all()
        assert [(e.person_id, e.kind) for e in evidence] == [(ask.person_id, "answer")]
        later = router.route(
            session,
            network_id=net.network_id,
            question="terragrunt modules per AWS account?",
            asker_id=net.ids["ada"],
            k=1,
            now=net.now + timedelta(days=1),
        )
    top = later.candidates[0]
    assert top.person_id == ask.person_id
    private = [r for r in top.reasons if r.source == "askaround"]
    assert private and "through Askaround" in private[0].text
    assert private[0].snippet is None and "terraform" not in private[0].text.lower()
    assert not later.notes  # the new row was embedded on the way, not left to text search


def test_policy_none_means_no_fairness_and_the_default_follows_the_settings(
    database: Database, embedder: HashingEmbedder, settings: Settings, net: NetworkBuilder
) -> None:
    strict = settings.model_copy(
        update={"index_check_seconds": 0.0, "fairness": True, "weekly_ask_budget": 0}
    )
    router = Router(database=database, embedder=embedder, settings=strict)
    by_settings = _ask(router, strict, net)  # a budget of 0: fairness leaves everyone out
    unfair = _ask(router, strict, net, text="Grafana or Prometheus for Kubernetes?", policy=None)
    assert by_settings.question.asks == ()
    assert len(unfair.question.asks) == 2
