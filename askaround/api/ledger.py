"""The give/take ledger: a person's favours given and received, and who owes whom in a pair."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from askaround.api.dependencies import ReadNetworkDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import Id, UtcDateTime
from router.errors import InvalidInput
from router.ledger import privacy
from router.network.people import get_person_by_id

router = APIRouter(prefix="/v1/people", tags=["ledger"], responses=DATA_ERRORS)

Since = Annotated[UtcDateTime | None, Query(description="Only favours at or after this time.")]
Until = Annotated[UtcDateTime | None, Query(description="Only favours before this time.")]


class TotalsOut(BaseModel):
    """Weights (a helpful answer weighs 2) and answer counts; balance = given - received."""

    given: float
    received: float
    given_count: int
    received_count: int
    balance: float


class DebtOut(BaseModel):
    person_id: int
    name: str
    net: float
    their_count: int
    your_count: int


class PersonLedgerOut(BaseModel):
    person_id: int
    name: str
    totals: TotalsOut
    owes: list[DebtOut]
    owed_by: list[DebtOut]


class PairOut(BaseModel):
    """Favours between two people from ``person_id``'s side; ``net`` > 0: the other owes."""

    person_id: int
    other_id: int
    gave: float
    got: float
    gave_count: int
    got_count: int
    net: float
    debtor_id: int | None


def _window(since: UtcDateTime | None, until: UtcDateTime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must be before until")


@router.get("/{person_id}/ledger", response_model=PersonLedgerOut)
def person_ledger(
    person_id: Id,
    network_id: ReadNetworkDep,
    session: SessionDep,
    since: Since = None,
    until: Until = None,
) -> PersonLedgerOut:
    """What a person gave and received, whom they owe and who owes them (largest first)."""
    _window(since, until)
    view = privacy.visible_ledger(
        session, network_id=network_id, person_id=person_id, since=since, until=until
    )
    return PersonLedgerOut.model_validate(view.as_dict())


@router.get("/{person_id}/ledger/{other_id}", response_model=PairOut)
def pair_ledger(
    person_id: Id,
    other_id: Id,
    network_id: ReadNetworkDep,
    session: SessionDep,
    since: Since = None,
    until: Until = None,
) -> PairOut:
    """Favours between two people of the network, and which of them owes the other."""
    _window(since, until)
    for pid in (person_id, other_id):
        get_person_by_id(session, network_id=network_id, person_id=pid)
    view = privacy.visible_pair_balance(
        session,
        network_id=network_id,
        person_id=person_id,
        other_id=other_id,
        since=since,
        until=until,
    )
    return PairOut.model_validate(view.as_dict())
