"""Answers: the asker marks one helpful (a bigger favour) or thanks its author."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from askaround.api.dependencies import NetworkDep, NowDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import Body, ExternalIdText, Id
from router.lifecycle import questions
from router.lifecycle.views import AnswerView
from router.network.people import get_person

router = APIRouter(prefix="/v1/answers", tags=["answers"], responses=DATA_ERRORS)


class AskerIn(Body):
    asker: ExternalIdText = Field(description="The asker, by external id: only they can do this.")


@router.post("/{answer_id}/helpful", response_model=AnswerView)
def mark_helpful(
    answer_id: Id, body: AskerIn, network_id: NetworkDep, session: SessionDep, now: NowDep
) -> AnswerView:
    """Mark an answer helpful: one more favour to its author, who is told."""
    asker = get_person(session, network_id=network_id, external_id=body.asker)
    view = questions.mark_helpful(
        session, network_id=network_id, answer_id=answer_id, person_id=asker.id, now=now
    )
    return view


@router.post("/{answer_id}/thanks", response_model=AnswerView)
def thank(
    answer_id: Id, body: AskerIn, network_id: NetworkDep, session: SessionDep, now: NowDep
) -> AnswerView:
    """Thank the author of an answer: a small favour, and a thank-you message to them."""
    asker = get_person(session, network_id=network_id, external_id=body.asker)
    view = questions.thank_answer(
        session, network_id=network_id, answer_id=answer_id, person_id=asker.id, now=now
    )
    return view
