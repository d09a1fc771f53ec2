"""Response shapes of the question lifecycle: questions, their asks, answers and history.

Built from the core's frozen views (``router.lifecycle.views``) through their ``as_dict()``, so
the API shows exactly what the CLI and the Slack bot show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from askaround.api.route import ReasonOut, RouteOut
from router.lifecycle.views import (
    AnswerView,
    AskedQuestion,
    AskView,
    QuestionHistory,
    QuestionView,
)


class AskOut(BaseModel):
    """One person asked one question: status is pending, answered, passed, declined or expired."""

    id: int
    question_id: int
    person_id: int
    person_name: str
    round: int
    status: str
    score: float
    reasons: list[ReasonOut]
    created_at: datetime
    responded_at: datetime | None

    @classmethod
    def of(cls, view: AskView) -> AskOut:
        return cls.model_validate(view.as_dict())


class AnswerOut(BaseModel):
    id: int
    question_id: int
    ask_id: int | None
    person_id: int
    person_name: str
    text: str
    helpful: bool
    thanked: bool
    created_at: datetime

    @classmethod
    def of(cls, view: AnswerView) -> AnswerOut:
        return cls.model_validate(view.as_dict())


class QuestionOut(BaseModel):
    """A question as it stands: status is open, answered, closed or expired."""

    id: int
    asker_id: int
    asker_name: str
    text: str
    anonymous: bool
    k: int
    status: str
    round: int
    created_at: datetime
    next_escalation_at: datetime | None
    expires_at: datetime
    closed_at: datetime | None
    asks: list[AskOut]
    answers: list[AnswerOut]

    @classmethod
    def of(cls, view: QuestionView) -> QuestionOut:
        return cls.model_validate(view.as_dict())


class EventOut(BaseModel):
    """One state change: created, asked, answered, passed, declined, helpful, closed, ..."""

    id: int
    kind: str
    actor_id: int | None
    actor_name: str | None
    detail: dict[str, Any]
    at: datetime


class QuestionHistoryOut(BaseModel):
    question: QuestionOut
    events: list[EventOut]

    @classmethod
    def of(cls, history: QuestionHistory) -> QuestionHistoryOut:
        return cls.model_validate(history.as_dict())


class AskedQuestionOut(BaseModel):
    """A question just asked, and the route that picked the people asked."""

    question: QuestionOut
    route: RouteOut

    @classmethod
    def of(cls, asked: AskedQuestion) -> AskedQuestionOut:
        return cls(question=QuestionOut.of(asked.question), route=RouteOut.of(asked.route))


class QuestionList(BaseModel):
    """A page of questions; ``next_offset`` is set when the page was full (more may follow)."""

    items: list[QuestionOut]
    next_offset: int | None
