"""``GET /v1/network/overview``: the give/take graph, givers and takers, topic experts,
unanswered questions and asks per person over recent weeks: what the network page draws."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from askaround.api.dependencies import NowDep, ReadNetworkDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import PlainDigits
from router.ledger.overview import Overview, network_overview

router = APIRouter(prefix="/v1/network", tags=["network"], responses=DATA_ERRORS)


@router.get("/overview", response_model=Overview)
def overview(
    network_id: ReadNetworkDep,
    session: SessionDep,
    now: NowDep,
    weeks: Annotated[
        int, PlainDigits, Query(ge=1, le=52, description="Weeks of asks to chart.")
    ] = 8,
) -> Overview:
    """Who helped whom, who gives and who only takes, topic experts, unanswered questions, and
    asks per person over the last weeks with their Gini."""
    return network_overview(session, network_id=network_id, now=now, weeks=weeks)
