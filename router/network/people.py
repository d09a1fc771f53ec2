"""Networks, people and what they know: the service functions every importer and edge calls.

Functions take a session the caller owns (they flush, never commit) and keyword-only arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from router.errors import Conflict, InvalidInput, NotFound
from router.question_text import visible
from router.storage.row_locks import hold_row
from router.storage.schema import Evidence, ExternalId, Network, Person, Tie
from router.storage.text import storable

EVIDENCE_KINDS = ("answer", "interest", "profile")
ASKAROUND_SOURCE = "askaround"  # answers given through Askaround itself: private, never quoted
MAX_NETWORK_NAME = 100
# What an external id looks like, for the API and the people importer alike: kind:value (the
# value as long as an email address may be; the whole id must also fit ``ExternalId.value``).
EXTERNAL_ID_PATTERN = r"[a-z][a-z0-9_-]*:\S{1,320}"
# An email address as every surface accepts it: something@domain.tld, no spaces.
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s]+"


def get_network(session: Session, *, name: str) -> Network:
    """The network called ``name``; NotFound if there is none."""
    network = session.scalar(select(Network).where(Network.name == name))
    if network is None:
        raise NotFound(f"no network named {name!r}")
    return network


def ensure_network(session: Session, *, name: str, now: datetime) -> Network:
    """The network called ``name``, created if missing."""
    name = name.strip()
    if not name or len(name) > MAX_NETWORK_NAME:
        raise InvalidInput(f"a network name has 1 to {MAX_NETWORK_NAME} characters")
    network = session.scalar(select(Network).where(Network.name == name))
    if network is None:
        network = Network(name=name, created_at=now)
        session.add(network)
        session.flush()
    return network


def find_person(session: Session, *, network_id: int, external_id: str) -> Person | None:
    """The person in this network known by ``external_id``, or None."""
    return session.scalar(
        select(Person)
        .join(ExternalId, ExternalId.person_id == Person.id)
        .where(ExternalId.network_id == network_id, ExternalId.value == external_id)
    )


def get_person(session: Session, *, network_id: int, external_id: str) -> Person:
    person = find_person(session, network_id=network_id, external_id=external_id)
    if person is None:
        raise NotFound(f"no person {external_id!r} in this network")
    return person


def get_person_by_id(session: Session, *, network_id: int, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None or person.network_id != network_id:
        raise NotFound(f"no person #{person_id} in this network")
    return person


def get_member(session: Session, *, network_id: int, person_id: int, lock: bool = False) -> Person:
    """A person of the network who has not been forgotten: an erased one is a tombstone that
    keeps others' favours and takes no new name, ids or evidence. With ``lock``, as
    ``lock_person``: for a change to them."""
    person = (
        lock_person(session, network_id=network_id, person_id=person_id)
        if lock
        else get_person_by_id(session, network_id=network_id, person_id=person_id)
    )
    if person.erased_at is not None:
        raise NotFound(f"person #{person_id} was erased")
    return person


def lock_person(session: Session, *, network_id: int, person_id: int) -> Person:
    """The person, read afresh and held until the caller's transaction ends, so changes to one
    person (a new set of ids, new evidence, forgetting them) never interleave: the second sees
    what the first committed (``hold_row``)."""
    hold_row(session, Person.id, person_id, unchanged=Person.display_name)
    person = session.scalar(
        select(Person).where(Person.id == person_id).execution_options(populate_existing=True)
    )
    if person is None or person.network_id != network_id:
        raise NotFound(f"no person #{person_id} in this network")
    session.expire(person, ["external_ids"])  # a collection read before the lock is stale
    return person


def ensure_person(
    session: Session,
    *,
    network_id: int,
    external_ids: Iterable[str],
    display_name: str,
    now: datetime,
    email: str | None = None,
    timezone: str | None = None,
) -> Person:
    """The person known by any of ``external_ids``, created if none matches; new ids are attached.

    Fields already set are updated only when a new value is given, so re-importing is idempotent.
    """
    ids = [
        storable(value.strip(), what="an external id")
        for value in external_ids
        if value and value.strip()
    ]
    storable(display_name, what="a name")
    for value in (email, timezone):
        if value is not None:
            storable(value, what="an email or timezone")
    if not ids:
        raise InvalidInput("a person needs at least one external id")
    if not visible(display_name):  # blank on every screen: zero-width spaces, fillers
        raise InvalidInput("a person needs a name")
    rows = session.scalars(
        select(ExternalId).where(ExternalId.network_id == network_id, ExternalId.value.in_(ids))
    ).all()
    owners = {row.person_id for row in rows}
    if len(owners) > 1:
        raise Conflict(f"external ids {ids} belong to different people")
    if owners:
        person = session.get(Person, owners.pop())
        assert person is not None
    else:
        person = Person(
            network_id=network_id,
            display_name=display_name.strip(),
            created_at=now,
            timezone=timezone or "UTC",
            opted_out=False,
            deactivated=False,
        )
        session.add(person)
        session.flush()
    known = {row.value for row in rows}
    for value in ids:
        if value not in known:
            session.add(ExternalId(network_id=network_id, person_id=person.id, value=value))
    if display_name.strip() and person.display_name != display_name.strip():
        person.display_name = display_name.strip()
    if email is not None:
        person.email = email
    if timezone is not None:
        person.timezone = timezone
    session.flush()
    return person


def check_evidence(kind: str, text: str, context: str) -> None:
    """InvalidInput unless the evidence could be stored: a known kind, some words, storable text."""
    if kind not in EVIDENCE_KINDS:
        raise InvalidInput(f"evidence kind must be one of {', '.join(EVIDENCE_KINDS)}")
    if not text.strip():
        raise InvalidInput("evidence text is empty")
    for value, what in ((text, "evidence text"), (context, "evidence context")):
        storable(value, what=what)


def add_evidence(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    kind: str,
    text: str,
    source: str,
    created_at: datetime,
    context: str = "",
    link: str | None = None,
    source_key: str | None = None,
) -> Evidence:
    """Store one piece of evidence (not yet embedded); with a ``source_key`` a second call is a no-op."""
    check_evidence(kind, text, context)
    if source_key is not None:
        existing = session.scalar(
            select(Evidence).where(
                Evidence.network_id == network_id, Evidence.source_key == source_key
            )
        )
        if existing is not None:
            return existing
    evidence = Evidence(
        network_id=network_id,
        person_id=person_id,
        kind=kind,
        text=text.strip(),
        context=context.strip(),
        source=source,
        source_key=source_key,
        link=link,
        weight=1.0,
        created_at=created_at,
    )
    session.add(evidence)
    session.flush()
    return evidence


def delete_evidence(session: Session, *, network_id: int, evidence_id: int) -> None:
    result = session.execute(
        delete(Evidence).where(Evidence.id == evidence_id, Evidence.network_id == network_id)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no evidence #{evidence_id} in this network")


def record_tie(
    session: Session,
    *,
    network_id: int,
    helper_id: int,
    helped_id: int,
    at: datetime,
    times: int = 1,
) -> None:
    """Count that ``helper`` helped ``helped`` (``times`` more); self-help is not a tie."""
    if helper_id == helped_id:
        return
    tie = session.scalar(
        select(Tie).where(
            Tie.network_id == network_id, Tie.helper_id == helper_id, Tie.helped_id == helped_id
        )
    )
    if tie is None:
        session.add(
            Tie(
                network_id=network_id,
                helper_id=helper_id,
                helped_id=helped_id,
                count=times,
                last_at=at,
            )
        )
    else:
        tie.count += times
        tie.last_at = max(tie.last_at, at)
    session.flush()


def count_people(session: Session, *, network_id: int) -> int:
    return int(
        session.scalar(select(func.count(Person.id)).where(Person.network_id == network_id)) or 0
    )


def primary_external_id(person: Person) -> str:
    """The id shown for a person: the first one attached."""
    ids = sorted(person.external_ids, key=lambda row: row.id)
    return ids[0].value if ids else f"person:{person.id}"


def address(session: Session, person_id: int) -> dict[str, Any]:
    """Who a message is for, as a channel needs it: id, name and every external id."""
    person = session.get(Person, person_id)
    external = session.scalars(
        select(ExternalId.value).where(ExternalId.person_id == person_id).order_by(ExternalId.id)
    ).all()
    return {
        "person_id": person_id,
        "name": person.display_name if person else f"#{person_id}",
        "external_ids": list(external),
        "email": person.email if person else None,
    }
