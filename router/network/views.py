"""People, evidence and the network as values: what the API returns for the directory.

Frozen pydantic dataclasses built from the stored rows by the functions below (never a live ORM
row), so the HTTP API returns them as they are and has no copy of its own to keep in step.
"""

from __future__ import annotations

from datetime import datetime

from pydantic.dataclasses import dataclass as value
from sqlalchemy.orm import Session

from router.errors import NotFound
from router.network.directory import count_evidence
from router.network.people import count_people
from router.storage.schema import Evidence, Network, Person


@value(frozen=True)
class PersonView:
    """A person of the network: their names for other systems, reachability and ask budget."""

    id: int
    name: str
    external_ids: tuple[str, ...]  # oldest first
    email: str | None
    timezone: str
    opted_out: bool
    deactivated: bool
    snoozed_until: datetime | None
    ask_budget: int | None  # asks a week; None: the network default
    created_at: datetime


@value(frozen=True)
class EvidenceView:
    """Something a person knows, and whether routing can find it by meaning yet (``embedded``)."""

    id: int
    person_id: int
    kind: str  # answer | interest | profile
    text: str
    context: str
    source: str
    source_key: str | None
    link: str | None
    weight: float
    created_at: datetime
    embedded: bool


@value(frozen=True)
class NetworkView:
    """A network and how big it is."""

    id: int
    name: str
    people: int
    evidence: int


def person_view(person: Person) -> PersonView:
    """The person as a value (their external ids read from the row's relationship)."""
    return PersonView(
        id=person.id,
        name=person.display_name,
        external_ids=tuple(row.value for row in sorted(person.external_ids, key=lambda r: r.id)),
        email=person.email,
        timezone=person.timezone,
        opted_out=person.opted_out,
        deactivated=person.deactivated,
        snoozed_until=person.snoozed_until,
        ask_budget=person.ask_budget,
        created_at=person.created_at,
    )


def evidence_view(evidence: Evidence) -> EvidenceView:
    """The evidence as a value; ``embedded`` says whether its vector is stored."""
    return EvidenceView(
        id=evidence.id,
        person_id=evidence.person_id,
        kind=evidence.kind,
        text=evidence.text,
        context=evidence.context,
        source=evidence.source,
        source_key=evidence.source_key,
        link=evidence.link,
        weight=float(evidence.weight),
        created_at=evidence.created_at,
        embedded=evidence.embedding is not None,
    )


def network_view(session: Session, *, network_id: int) -> NetworkView:
    """The network with its counts of people and evidence."""
    network = session.get(Network, network_id)
    if network is None:
        raise NotFound(f"no network #{network_id}")
    return NetworkView(
        id=network.id,
        name=network.name,
        people=count_people(session, network_id=network_id),
        evidence=count_evidence(session, network_id=network_id),
    )
