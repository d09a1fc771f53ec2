"""Questions as values: what the API, the Slack bot and the CLI render, and the reads that build them.

Every lifecycle function returns one of these frozen pydantic dataclasses (never a live ORM row);
``as_dict()`` is ``json_of``, and the HTTP API returns the values themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, TypeAdapter
from pydantic.dataclasses import dataclass as value
from sqlalchemy import select
from sqlalchemy.orm import Session

from router.errors import InvalidInput, NotFound
from router.lifecycle.states import LIVE_QUESTION, AskStatus, QuestionStatus
from router.routing.route import Reason, Route
from router.storage.schema import Answer, Ask, Person, Question, QuestionEvent
from router.values import json_of

QUESTION_STATUSES = tuple(QuestionStatus)
MAX_PAGE = 200
STORED_REASONS: TypeAdapter[tuple[Reason, ...]] = TypeAdapter(tuple[Reason, ...])


@value(frozen=True)
class AskView:
    """One person asked one question: their status and why they were picked."""

    id: int
    question_id: int
    person_id: int
    person_name: str
    round: int
    status: str  # pending | answered | passed | declined | expired
    score: float
    reasons: tuple[Reason, ...]  # as stored when the person was asked
    created_at: datetime
    responded_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class AnswerView:
    """An answer, its author, and whether the asker found it helpful or thanked them."""

    id: int
    question_id: int
    ask_id: int | None
    person_id: int
    person_name: str
    text: str
    helpful: bool
    thanked: bool
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class EventView:
    """One state change: ``created``, ``asked``, ``answered``, ``passed``, ``declined``, ..."""

    id: int
    kind: str
    actor_id: int | None
    actor_name: str | None
    detail: dict[str, Any]
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class QuestionView:
    """A question as it stands: status is open, answered, closed or expired."""

    id: int
    network_id: Annotated[int, Field(exclude=True)]  # the caller's network; never shown
    asker_id: int
    asker_name: str
    text: str
    anonymous: bool
    k: int
    status: str  # open | answered | closed | expired
    round: int
    created_at: datetime
    next_escalation_at: datetime | None
    expires_at: datetime
    closed_at: datetime | None
    asks: tuple[AskView, ...]
    answers: tuple[AnswerView, ...]

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class QuestionHistory:
    """A question as it stands and every state change that led there, oldest first."""

    question: QuestionView
    events: tuple[EventView, ...]

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@dataclass(frozen=True)
class AskedQuestion:
    """What creating a question returns: the stored question and the route that picked people;
    ``replayed`` when an earlier request with the same idempotency key had created it."""

    question: QuestionView
    route: Route
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"question": self.question.as_dict(), "route": self.route.as_dict()}


@value(frozen=True)
class TickReport:
    """What one ``tick`` did: questions escalated to a new round, and questions expired."""

    escalated: tuple[int, ...] = ()
    expired: tuple[int, ...] = ()
    asks_sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


def names_of(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Display names by person id."""
    wanted = {pid for pid in ids if pid is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Person.id, Person.display_name).where(Person.id.in_(wanted)))
    return {int(pid): str(name) for pid, name in rows.tuples()}


def ask_view(ask: Ask, names: dict[int, str]) -> AskView:
    return AskView(
        id=ask.id,
        question_id=ask.question_id,
        person_id=ask.person_id,
        person_name=names.get(ask.person_id, f"#{ask.person_id}"),
        round=ask.round,
        status=ask.status,
        score=ask.score,
        reasons=STORED_REASONS.validate_python(ask.reasons or ()),
        created_at=ask.created_at,
        responded_at=ask.responded_at,
    )


def answer_view(answer: Answer, names: dict[int, str]) -> AnswerView:
    return AnswerView(
        id=answer.id,
        question_id=answer.question_id,
        ask_id=answer.ask_id,
        person_id=answer.person_id,
        person_name=names.get(answer.person_id, f"#{answer.person_id}"),
        text=answer.text,
        helpful=answer.helpful,
        thanked=answer.thanked,
        created_at=answer.created_at,
    )


def question_views(session: Session, questions: list[Question]) -> list[QuestionView]:
    """Views of many questions with their asks and answers, in three queries."""
    ids = [q.id for q in questions]
    asks: dict[int, list[Ask]] = defaultdict(list)
    answers: dict[int, list[Answer]] = defaultdict(list)
    if ids:
        for ask in session.scalars(select(Ask).where(Ask.question_id.in_(ids)).order_by(Ask.id)):
            asks[ask.question_id].append(ask)
        for answer in session.scalars(
            select(Answer).where(Answer.question_id.in_(ids)).order_by(Answer.id)
        ):
            answers[answer.question_id].append(answer)
    names = names_of(
        session,
        [q.asker_id for q in questions]
        + [a.person_id for rows in asks.values() for a in rows]
        + [a.person_id for rows in answers.values() for a in rows],
    )
    return [
        QuestionView(
            id=q.id,
            network_id=q.network_id,
            asker_id=q.asker_id,
            asker_name=names.get(q.asker_id, f"#{q.asker_id}"),
            text=q.text,
            anonymous=q.anonymous,
            k=q.k,
            status=q.status,
            round=q.round,
            created_at=q.created_at,
            next_escalation_at=q.next_escalation_at,
            expires_at=q.expires_at,
            closed_at=q.closed_at,
            asks=tuple(ask_view(a, names) for a in asks[q.id]),
            answers=tuple(answer_view(a, names) for a in answers[q.id]),
        )
        for q in questions
    ]


def load_question(
    session: Session, *, network_id: int, question_id: int, lock: bool = False
) -> Question:
    """The network's question; with ``lock`` its row is locked (PostgreSQL) until the caller's
    transaction ends, so a state change never interleaves with ``tick`` or another writer."""
    if lock:
        question = session.scalar(
            select(Question)
            .where(Question.id == question_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    else:
        question = session.get(Question, question_id)
    if question is None or question.network_id != network_id:
        raise NotFound(f"no question #{question_id} in this network")
    return question


def get_question(session: Session, *, network_id: int, question_id: int) -> QuestionView:
    """One question with its asks and answers."""
    question = load_question(session, network_id=network_id, question_id=question_id)
    return question_views(session, [question])[0]


def question_history(session: Session, *, network_id: int, question_id: int) -> QuestionHistory:
    """A question and every state change it went through, oldest first, for display and audit."""
    question = get_question(session, network_id=network_id, question_id=question_id)
    events = session.scalars(
        select(QuestionEvent)
        .where(QuestionEvent.question_id == question_id)
        .order_by(QuestionEvent.at, QuestionEvent.id)
    ).all()
    names = names_of(session, [event.actor_id for event in events])
    return QuestionHistory(
        question=question,
        events=tuple(
            EventView(
                id=event.id,
                kind=event.kind,
                actor_id=event.actor_id,
                actor_name=None if event.actor_id is None else names.get(event.actor_id),
                detail=dict(event.detail or {}),
                at=event.at,
            )
            for event in events
        ),
    )


def list_questions(
    session: Session,
    *,
    network_id: int,
    asker_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[QuestionView]:
    """Questions of a network, newest first, optionally one asker's or in one status."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"a page holds 1 to {MAX_PAGE} questions from a non-negative offset")
    if status is not None and status not in QUESTION_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(QUESTION_STATUSES)}")
    query = select(Question).where(Question.network_id == network_id)
    if asker_id is not None:
        query = query.where(Question.asker_id == asker_id)
    if status is not None:
        query = query.where(Question.status == status)
    rows = session.scalars(
        query.order_by(Question.created_at.desc(), Question.id.desc()).limit(limit).offset(offset)
    ).all()
    return question_views(session, list(rows))


def pending_asks(session: Session, *, network_id: int, person_id: int) -> list[AskView]:
    """Asks still waiting on a person (their question not yet closed or expired), oldest first."""
    rows = session.scalars(
        select(Ask)
        .join(Question, Question.id == Ask.question_id)
        .where(
            Ask.network_id == network_id,
            Ask.person_id == person_id,
            Ask.status == AskStatus.PENDING,
            Question.status.in_(LIVE_QUESTION),
        )
        .order_by(Ask.created_at, Ask.id)
    ).all()
    names = names_of(session, [person_id])
    return [ask_view(ask, names) for ask in rows]
