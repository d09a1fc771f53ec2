"""The weekly "favours owed" summary, for one person or for the network, for ``?week=2026-W48``.

Without ``week`` it is this week so far; a past week is computed as of its last moment. Reading a
summary sends nothing: sending is the worker's job, once per person and week.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from askaround.api.dependencies import NowDep, ReadNetworkDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import Id
from router.errors import InvalidInput
from router.ledger.summary import build_weekly_summary
from router.ledger.summary_text import render_person_summary
from router.ledger.weeks import moment_in_week
from router.network.people import get_person_by_id

router = APIRouter(tags=["summary"], responses=DATA_ERRORS)

FIRST_YEAR = 2000  # no network predates this; keeps date arithmetic far from datetime's limits

Week = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-W\d{2}$",
        description="An ISO week such as `2026-W48`; default: this week so far.",
    ),
]


class TallyOut(BaseModel):
    """Answers given or received (``count``) and their weight with helpful and thanks."""

    count: int
    weight: float


class OwingOut(BaseModel):
    person_id: int
    name: str
    net: float
    they_answered: int
    you_answered: int


class WaitingAskOut(BaseModel):
    ask_id: int
    question_id: int
    question: str
    asker_name: str
    asked_at: datetime


class OpenQuestionOut(BaseModel):
    question_id: int
    text: str
    asker_name: str
    asked_at: datetime
    people_asked: int


class PersonSummaryOut(BaseModel):
    person_id: int
    name: str
    week: str
    given_week: TallyOut
    received_week: TallyOut
    given_total: TallyOut
    received_total: TallyOut
    owes: list[OwingOut]
    owed_by: list[OwingOut]
    waiting: list[WaitingAskOut]
    unanswered: list[OpenQuestionOut]
    text: str


class GiverOut(TallyOut):
    name: str


class SpreadOut(BaseModel):
    """How this week's asks were spread: the most any one person got, and the Gini coefficient."""

    asks: int
    people_asked: int
    max_per_person: int
    busiest: list[str]
    gini: float
    gini_among_asked: float


class NetworkSummaryOut(BaseModel):
    network_id: int
    network_name: str
    week: str
    week_start: datetime
    as_of: datetime
    top_givers: list[GiverOut]
    only_take: list[str]
    unanswered: list[OpenQuestionOut]
    spread: SpreadOut


def _as_of(week: str | None, now: datetime) -> datetime:
    if week is None:
        return now
    if int(week[:4]) < FIRST_YEAR:
        raise InvalidInput(f"weeks before {FIRST_YEAR} hold no favours")
    return moment_in_week(week, now=now)


@router.get("/v1/summary", response_model=NetworkSummaryOut)
def network_summary(
    network_id: ReadNetworkDep, session: SessionDep, now: NowDep, week: Week = None
) -> NetworkSummaryOut:
    """The network's week: top givers, people who only take, unanswered questions, ask spread."""
    summary = build_weekly_summary(session, network_id=network_id, now=_as_of(week, now))
    data = summary.as_dict()
    data.pop("people")
    return NetworkSummaryOut.model_validate(data)


@router.get("/v1/people/{person_id}/summary", response_model=PersonSummaryOut)
def person_summary(
    person_id: Id, network_id: ReadNetworkDep, session: SessionDep, now: NowDep, week: Week = None
) -> PersonSummaryOut:
    """A person's week: favours given and received, who they owe and who owes them, what waits."""
    get_person_by_id(session, network_id=network_id, person_id=person_id)
    as_of = _as_of(week, now)
    mine = build_weekly_summary(session, network_id=network_id, now=as_of).person(person_id)
    return PersonSummaryOut.model_validate(
        {**mine.as_dict(), "text": render_person_summary(mine, now=as_of)}
    )
