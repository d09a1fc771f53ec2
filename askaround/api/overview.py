"""``GET /v1/network/overview``: the give/take graph, givers and takers, topic experts,
unanswered questions and asks per person over recent weeks: what the network page draws."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from askaround.api.dependencies import NowDep, ReadNetworkDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from router.ledger.overview import network_overview

router = APIRouter(prefix="/v1/network", tags=["network"], responses=DATA_ERRORS)


class NodeOut(BaseModel):
    person_id: int
    name: str
    given: float = Field(description="Favours given (weight, helpful and thanks included).")
    received: float
    given_count: int = Field(description="Answers given.")
    received_count: int


class EdgeOut(BaseModel):
    giver_id: int
    taker_id: int
    weight: float
    count: int


class ExpertOut(BaseModel):
    person_id: int
    name: str
    evidence: int


class TopicOut(BaseModel):
    topic: str
    evidence: int
    experts: list[ExpertOut]


class UnansweredOut(BaseModel):
    question_id: int
    text: str
    asker: str
    asked_at: datetime
    status: str
    people_asked: int


class LoadOut(BaseModel):
    person_id: int
    name: str
    asks: list[int] = Field(description="Asks received in each week of `weeks`.")
    total: int


class AsksOut(BaseModel):
    weeks: list[str] = Field(description="ISO weeks, oldest first.")
    people: list[LoadOut]
    gini: float = Field(description="Gini of asks per person over the weeks (0 = even).")


class OverviewOut(BaseModel):
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    top_givers: list[NodeOut]
    only_take: list[NodeOut] = Field(description="Received favours and never gave one.")
    topics: list[TopicOut]
    unanswered: list[UnansweredOut]
    asks: AsksOut


@router.get("/overview", response_model=OverviewOut)
def overview(
    network_id: ReadNetworkDep,
    session: SessionDep,
    now: NowDep,
    weeks: Annotated[int, Query(ge=1, le=52, description="Weeks of asks to chart.")] = 8,
) -> OverviewOut:
    """Who helped whom, who gives and who only takes, topic experts, unanswered questions, and
    asks per person over the last weeks with their Gini."""
    result = network_overview(session, network_id=network_id, now=now, weeks=weeks)
    return OverviewOut.model_validate(result.as_dict())
