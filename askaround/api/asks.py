"""Asks: the person asked answers, passes ("not now") or declines ("not my area").

The acting person is named by external id (``person``); only the person asked may respond.
Repeating a response that already happened returns the same result and changes nothing; an
answer with other text than the one stored for the ask is a 409 (an ask has one answer).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from askaround.api.dependencies import NetworkDep, NowDep, ReadNetworkDep, ServicesDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import Body, ExternalIdText, Id, LongText, UtcDateTime
from askaround.api.indexing import refresh_after_commit
from router.lifecycle import questions
from router.lifecycle.views import AnswerView, AskView, ask_view, names_of
from router.network.people import get_person, get_person_by_id
from router.storage.schema import Ask

router = APIRouter(tags=["asks"], responses=DATA_ERRORS)


class RespondIn(Body):
    person: ExternalIdText = Field(description="The person asked, by external id.")


class AnswerIn(RespondIn):
    text: LongText = Field(description="The answer, delivered to the asker.")


class SnoozeIn(RespondIn):
    until: UtcDateTime = Field(description="No asks until then (at most 90 days ahead).")


class SnoozedOut(BaseModel):
    ask: AskView
    snoozed_until: datetime


@router.post("/v1/asks/{ask_id}/answer", response_model=AnswerView, status_code=201)
def answer(
    ask_id: Id, body: AnswerIn, network_id: NetworkDep, session: SessionDep, now: NowDep
) -> AnswerView:
    """Answer an ask: the answer goes to the asker and counts as a favour to them. A retry with
    the same text returns the stored answer; other text for an answered ask is a 409."""
    person = get_person(session, network_id=network_id, external_id=body.person)
    view = questions.answer_ask(
        session,
        network_id=network_id,
        ask_id=ask_id,
        person_id=person.id,
        text=body.text,
        now=now,
        refuse_other_text=True,  # one answer per ask: other words would be dropped silently
    )
    return view


@router.post("/v1/asks/{ask_id}/pass", response_model=AskView)
def pass_ask(
    ask_id: Id, body: RespondIn, network_id: NetworkDep, session: SessionDep, now: NowDep
) -> AskView:
    """Not now: if everyone asked says no, the next best people are asked."""
    person = get_person(session, network_id=network_id, external_id=body.person)
    view = questions.pass_ask(
        session, network_id=network_id, ask_id=ask_id, person_id=person.id, now=now
    )
    return view


@router.post("/v1/asks/{ask_id}/decline", response_model=AskView)
def decline_ask(
    ask_id: Id,
    body: RespondIn,
    network_id: NetworkDep,
    session: SessionDep,
    services: ServicesDep,
    now: NowDep,
) -> AskView:
    """Not my area: like a pass, and the evidence that matched counts less for such questions."""
    person = get_person(session, network_id=network_id, external_id=body.person)
    view = questions.decline_ask(
        session, network_id=network_id, ask_id=ask_id, person_id=person.id, now=now
    )
    refresh_after_commit(session, services=services, network_id=network_id)  # the new weights
    return view


@router.post("/v1/asks/{ask_id}/snooze", response_model=SnoozedOut)
def snooze(
    ask_id: Id, body: SnoozeIn, network_id: NetworkDep, session: SessionDep, now: NowDep
) -> SnoozedOut:
    """Not now, and not anything until ``until``: passes this ask and snoozes the person."""
    person = get_person(session, network_id=network_id, external_id=body.person)
    until = questions.snooze_person(
        session,
        network_id=network_id,
        person_id=person.id,
        until=body.until,
        now=now,
        ask_id=ask_id,
    )
    ask = session.get(Ask, ask_id)  # snooze_person checked it is this person's, in this network
    assert ask is not None
    view = ask_view(ask, names_of(session, [person.id]))
    return SnoozedOut(ask=view, snoozed_until=until)


@router.get("/v1/people/{person_id}/asks", response_model=list[AskView])
def pending_asks(person_id: Id, network_id: ReadNetworkDep, session: SessionDep) -> list[AskView]:
    """Asks still waiting on a person, oldest first."""
    get_person_by_id(session, network_id=network_id, person_id=person_id)
    views = questions.pending_asks(session, network_id=network_id, person_id=person_id)
    return views
