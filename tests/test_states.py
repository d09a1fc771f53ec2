"""Question and ask states: one table of moves, enforced in code and by the database."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from router.errors import Conflict
from router.lifecycle.questions import answer_ask, ask_question, close_question, pass_ask
from router.lifecycle.states import (
    ASK_MOVES,
    QUESTION_MOVES,
    AskStatus,
    IllegalTransition,
    QuestionStatus,
    move_ask,
    move_question,
)
from router.routing.router import Router
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Ask, Question
from tests.network_builder import NetworkBuilder


def test_only_the_moves_in_the_table_are_allowed() -> None:
    for current, to in itertools.product(QuestionStatus, QuestionStatus):
        question = Question(id=1, status=current)
        if to in QUESTION_MOVES[current]:
            move_question(question, to)
            assert question.status == to
        else:
            with pytest.raises(IllegalTransition):
                move_question(question, to)
            assert question.status == current
    for current, to in itertools.product(AskStatus, AskStatus):
        ask = Ask(id=1, status=current)
        if to in ASK_MOVES[current]:
            move_ask(ask, to)
        else:
            with pytest.raises(IllegalTransition):
                move_ask(ask, to)


def test_finished_questions_and_answered_asks_never_move_again() -> None:
    assert QUESTION_MOVES[QuestionStatus.CLOSED] == QUESTION_MOVES[QuestionStatus.EXPIRED] == set()
    assert ASK_MOVES[AskStatus.ANSWERED] == ASK_MOVES[AskStatus.EXPIRED] == set()
    assert issubclass(IllegalTransition, Conflict)  # 409 / ephemeral reply / one CLI line


@pytest.mark.parametrize("table", ["questions", "asks"])
def test_the_database_refuses_a_state_outside_the_enum(
    database: Database, settings: Settings, now: datetime, table: str
) -> None:
    net = NetworkBuilder(database, HashingEmbedder(), now)
    net.person("grace", "How do you monitor Kubernetes?|Prometheus and Grafana")
    net.person("asker")
    router = Router(database=database, embedder=HashingEmbedder(), settings=settings)
    with database.transaction() as session:
        asked = ask_question(
            session,
            router=router,
            settings=settings,
            network_id=net.network_id,
            asker_id=net.ids["asker"],
            text="How should we monitor Kubernetes?",
            now=now,
        )
    assert asked.question.asks  # a row in both tables to change
    with pytest.raises(IntegrityError), database.transaction() as session:
        session.execute(text(f"UPDATE {table} SET status = 'maybe'"))


def test_an_illegal_move_in_the_lifecycle_is_a_conflict_and_changes_nothing(
    database: Database, settings: Settings, now: datetime
) -> None:
    net = NetworkBuilder(database, HashingEmbedder(), now)
    net.person("grace", "How do you monitor Kubernetes?|Prometheus and Grafana")
    net.person("asker")
    router = Router(database=database, embedder=HashingEmbedder(), settings=settings)
    with database.transaction() as session:
        asked = ask_question(
            session,
            router=router,
            settings=settings,
            network_id=net.network_id,
            asker_id=net.ids["asker"],
            text="How should we monitor Kubernetes?",
            now=now,
        )
    ask = asked.question.asks[0]
    with database.transaction() as session:
        answer_ask(
            session,
            network_id=net.network_id,
            ask_id=ask.id,
            person_id=ask.person_id,
            text="Prometheus",
            now=now + timedelta(minutes=1),
        )
    with pytest.raises(IllegalTransition, match="already answered"), database.transaction() as s:
        pass_ask(s, network_id=net.network_id, ask_id=ask.id, person_id=ask.person_id, now=now)
    with database.transaction() as session:
        closed = close_question(
            session,
            network_id=net.network_id,
            question_id=asked.question.id,
            person_id=net.ids["asker"],
            now=now + timedelta(minutes=2),
        )
        assert closed.status == QuestionStatus.CLOSED
        assert session.get(Ask, ask.id).status == AskStatus.ANSWERED  # type: ignore[union-attr]
