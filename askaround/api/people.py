"""People of the key's network: list (paged, or by external id), read, create, update, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field, StrictBool, StrictInt

from askaround.api.dependencies import (
    NetworkDep,
    NowDep,
    ReadNetworkDep,
    ServicesDep,
    SessionDep,
)
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import (
    MAX_EXTERNAL_IDS,
    Body,
    Email,
    ExternalIdText,
    Id,
    Name,
    NewExternalId,
    Timezone,
    UtcDateTime,
)
from askaround.api.pages import Cursor, Limit, Page, after_id, page_of
from askaround.forgetting import forget_person
from router.errors import InvalidInput
from router.network import directory
from router.network.people import get_member
from router.network.views import PersonView, person_view

router = APIRouter(prefix="/v1/people", tags=["people"], responses=DATA_ERRORS)

AskBudget = Annotated[
    StrictInt, Field(ge=0, le=100, description="Asks a week; null: the network default.")
]


class PersonIn(Body):
    name: Name
    external_ids: list[NewExternalId] = Field(
        min_length=1,
        max_length=MAX_EXTERNAL_IDS,
        description="Ids other systems know the person by: `slack:U123`, `email:a@b.c`, `se:42`.",
    )
    email: Email | None = None
    timezone: Timezone = "UTC"
    opted_out: StrictBool = False
    ask_budget: AskBudget | None = None


class PersonPatch(Body):
    """Only the fields sent change; `external_ids` replaces the whole set."""

    name: Name | None = None
    external_ids: list[NewExternalId] | None = Field(
        default=None, min_length=1, max_length=MAX_EXTERNAL_IDS
    )
    email: Email | None = None
    timezone: Timezone | None = None
    opted_out: StrictBool | None = None
    snoozed_until: UtcDateTime | None = Field(
        default=None, description="No asks until then (at most 90 days ahead); null: awake."
    )
    ask_budget: AskBudget | None = None

    def changes(self) -> dict[str, Any]:
        """The fields sent; ``null`` clears the nullable ones and is refused for the others."""
        sent = {name: getattr(self, name) for name in self.model_fields_set}
        for name in ("name", "external_ids", "timezone", "opted_out"):
            if name in sent and sent[name] is None:
                raise InvalidInput(f"{name} cannot be null")
        return sent


@router.get("", response_model=Page[PersonView])
def list_people(
    network_id: ReadNetworkDep,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    external_id: Annotated[
        ExternalIdText | None, Query(description="Only the person known by this id.")
    ] = None,
) -> Page[PersonView]:
    """The network's people, oldest first, a page at a time."""
    rows = directory.list_people(
        session,
        network_id=network_id,
        after_id=after_id(cursor),
        limit=limit,
        external_id=external_id,
    )
    return page_of(rows, limit=limit, row_id=lambda row: row.id, render=person_view)


@router.post("", response_model=PersonView, status_code=201)
def create_person(
    body: PersonIn, network_id: NetworkDep, session: SessionDep, now: NowDep
) -> PersonView:
    """Add a person; 409 if one of the external ids already names someone."""
    person = directory.create_person(
        session,
        network_id=network_id,
        name=body.name,
        external_ids=body.external_ids,
        email=body.email,
        timezone=body.timezone,
        opted_out=body.opted_out,
        ask_budget=body.ask_budget,
        now=now,
    )
    return person_view(person)


@router.get("/{person_id}", response_model=PersonView)
def get_person(person_id: Id, network_id: ReadNetworkDep, session: SessionDep) -> PersonView:
    """One person of the network."""
    return person_view(get_member(session, network_id=network_id, person_id=person_id))


@router.patch("/{person_id}", response_model=PersonView)
def update_person(
    person_id: Id, body: PersonPatch, network_id: NetworkDep, session: SessionDep, now: NowDep
) -> PersonView:
    """Change some of a person's fields (opt out, snooze up to 90 days ahead, ask budget,
    name, ids...)."""
    person = directory.update_person(
        session, network_id=network_id, person_id=person_id, now=now, **body.changes()
    )
    return person_view(person)


@router.delete("/{person_id}", status_code=204, response_class=Response)
def delete_person(
    person_id: Id, network_id: NetworkDep, session: SessionDep, services: ServicesDep, now: NowDep
) -> Response:
    """Forget a person: their evidence, vectors, profile and ids go; the favours they gave and
    received stay, anonymised as "a former member", so nobody else's balance changes.
    Deleting again is a no-op."""
    forget_person(session, services=services, network_id=network_id, person_id=person_id, now=now)
    return Response(status_code=204)
