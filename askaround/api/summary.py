"""The weekly "favours owed" summary, for one person or for the network, for ``?week=2026-W48``.

Without ``week`` it is this week so far; a past week is computed as of its last moment. Reading a
summary sends nothing: sending is the worker's job, once per person and week.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic.dataclasses import dataclass as value

from askaround.api.dependencies import NowDep, ReadNetworkDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import Id
from router.errors import InvalidInput
from router.ledger.summary import NetworkWeek, PersonSummary, build_weekly_summary
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


@value(frozen=True)
class PersonSummaryText(PersonSummary):
    """A person's week as the core computes it, and the same week rendered as text."""

    text: str = ""  # always filled in; a default only because the core fields before it have some


def _as_of(week: str | None, now: datetime) -> datetime:
    if week is None:
        return now
    if int(week[:4]) < FIRST_YEAR:
        raise InvalidInput(f"weeks before {FIRST_YEAR} hold no favours")
    return moment_in_week(week, now=now)


@router.get("/v1/summary", response_model=NetworkWeek)
def network_summary(
    network_id: ReadNetworkDep, session: SessionDep, now: NowDep, week: Week = None
) -> NetworkWeek:
    """The network's week: top givers, people who only take, unanswered questions, ask spread."""
    summary = build_weekly_summary(session, network_id=network_id, now=_as_of(week, now))
    return summary.network_week()


@router.get("/v1/people/{person_id}/summary", response_model=PersonSummaryText)
def person_summary(
    person_id: Id, network_id: ReadNetworkDep, session: SessionDep, now: NowDep, week: Week = None
) -> PersonSummaryText:
    """A person's week: favours given and received, who they owe and who owes them, what waits."""
    get_person_by_id(session, network_id=network_id, person_id=person_id)
    as_of = _as_of(week, now)
    mine = build_weekly_summary(session, network_id=network_id, now=as_of).person(person_id)
    return PersonSummaryText(
        **{f.name: getattr(mine, f.name) for f in fields(PersonSummary)},
        text=render_person_summary(mine, now=as_of),
    )
