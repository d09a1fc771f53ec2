"""The give/take ledger: a person's favours given and received, and who owes whom in a pair.

The responses are the core's own values (``router.ledger.balances``), not mirrors of them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from askaround.api.dependencies import ReadNetworkDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import Id, UtcDateTime
from router.errors import InvalidInput
from router.ledger import favours as ledger
from router.ledger import privacy
from router.network.people import get_person_by_id

router = APIRouter(prefix="/v1/people", tags=["ledger"], responses=DATA_ERRORS)

Since = Annotated[UtcDateTime | None, Query(description="Only favours at or after this time.")]
Until = Annotated[UtcDateTime | None, Query(description="Only favours before this time.")]


def _window(since: UtcDateTime | None, until: UtcDateTime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must be before until")


@router.get("/{person_id}/ledger", response_model=ledger.PersonLedger)
def person_ledger(
    person_id: Id,
    network_id: ReadNetworkDep,
    session: SessionDep,
    since: Since = None,
    until: Until = None,
) -> ledger.PersonLedger:
    """What a person gave and received, whom they owe and who owes them (largest first)."""
    _window(since, until)
    return privacy.visible_ledger(
        session, network_id=network_id, person_id=person_id, since=since, until=until
    )


@router.get("/{person_id}/ledger/{other_id}", response_model=ledger.PairBalance)
def pair_ledger(
    person_id: Id,
    other_id: Id,
    network_id: ReadNetworkDep,
    session: SessionDep,
    since: Since = None,
    until: Until = None,
) -> ledger.PairBalance:
    """Favours between two people of the network, and which of them owes the other."""
    _window(since, until)
    for pid in (person_id, other_id):
        get_person_by_id(session, network_id=network_id, person_id=pid)
    return privacy.visible_pair_balance(
        session,
        network_id=network_id,
        person_id=person_id,
        other_id=other_id,
        since=since,
        until=until,
    )
