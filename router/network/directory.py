"""The directory of a network: people and evidence paged, created strictly, edited and removed.

``router.network.people`` holds what importers need (ensure, attach, record); this module holds what an
edge that manages the directory needs on top: pages by id, a create that refuses to merge
(Conflict), partial updates (a field left as ``KEEP`` is not touched) and deletes. Functions take
a session the caller owns (they flush, never commit) and keyword-only arguments.
"""

from __future__ import annotations

import enum
import zoneinfo
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.errors import Conflict, InvalidInput, NotFound
from router.network.availability import check_snooze
from router.network.people import EVIDENCE_KINDS, add_evidence, get_member, get_person_by_id
from router.question_text import visible
from router.storage.schema import Evidence, ExternalId, Person


class Keep(enum.Enum):
    """Marks a field an update leaves as it is (``None`` may be a real value, e.g. no snooze)."""

    KEEP = "keep"


KEEP = Keep.KEEP
Unchanged = Literal[Keep.KEEP]

# Clocks disagree a little; evidence dated further ahead than this is refused as a mistake.
MAX_CLOCK_SKEW = timedelta(days=1)


def check_evidence_date(created_at: datetime, *, now: datetime) -> datetime:
    """``created_at`` if it is not in the future (beyond clock skew), else InvalidInput."""
    if created_at > now + MAX_CLOCK_SKEW:
        raise InvalidInput(
            f"evidence cannot be dated in the future ({created_at.isoformat()} is after "
            f"{now.isoformat()})"
        )
    return created_at


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone this machine knows, else InvalidInput."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(
            f"unknown time zone {name!r}; use an IANA name like 'Europe/Paris'"
        ) from exc
    return name


def list_people(
    session: Session,
    *,
    network_id: int,
    after_id: int | None,
    limit: int,
    external_id: str | None = None,
) -> Sequence[Person]:
    """Up to ``limit + 1`` people of the network by id, after ``after_id``; optionally one by id."""
    query = select(Person).where(Person.network_id == network_id, Person.erased_at.is_(None))
    if external_id is not None:
        query = query.join(ExternalId, ExternalId.person_id == Person.id).where(
            ExternalId.network_id == network_id, ExternalId.value == external_id
        )
    if after_id is not None:
        query = query.where(Person.id > after_id)
    return session.scalars(query.order_by(Person.id).limit(limit + 1)).all()


def _claim_ids(
    session: Session, *, network_id: int, values: Sequence[str], person_id: int | None
) -> None:
    """Conflict if any of ``values`` already names someone other than ``person_id``."""
    taken = session.scalars(
        select(ExternalId).where(ExternalId.network_id == network_id, ExternalId.value.in_(values))
    ).all()
    for row in taken:
        if row.person_id != person_id:
            raise Conflict(f"external id {row.value!r} already belongs to person #{row.person_id}")


def _distinct(values: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(value.strip() for value in values if value.strip()))
    if not ids:
        raise InvalidInput("a person needs at least one external id")
    return ids


def create_person(
    session: Session,
    *,
    network_id: int,
    name: str,
    external_ids: Sequence[str],
    now: datetime,
    email: str | None = None,
    timezone: str = "UTC",
    opted_out: bool = False,
    ask_budget: int | None = None,
) -> Person:
    """A new person; Conflict if one of their external ids already names someone (no merge)."""
    ids = _distinct(external_ids)
    if not visible(name):  # blank on every screen: zero-width spaces, fillers
        raise InvalidInput("a person needs a name")
    _claim_ids(session, network_id=network_id, values=ids, person_id=None)
    person = Person(
        network_id=network_id,
        display_name=name.strip(),
        email=email,
        timezone=check_timezone(timezone),
        opted_out=opted_out,
        deactivated=False,
        ask_budget=ask_budget,
        created_at=now,
    )
    session.add(person)
    session.flush()
    for value in ids:
        session.add(ExternalId(network_id=network_id, person_id=person.id, value=value))
    session.flush()
    session.refresh(person, ["external_ids"])
    return person


def update_person(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    name: str | Unchanged = KEEP,
    external_ids: Sequence[str] | Unchanged = KEEP,
    email: str | Unchanged | None = KEEP,
    timezone: str | Unchanged = KEEP,
    opted_out: bool | Unchanged = KEEP,
    snoozed_until: datetime | Unchanged | None = KEEP,
    ask_budget: int | Unchanged | None = KEEP,
    now: datetime | None = None,
) -> Person:
    """Change the given fields of a person; ``external_ids`` replaces the whole set. A snooze
    (``snoozed_until``, needing ``now``) is held to the same bounds as ``snooze_person``'s."""
    person = get_member(session, network_id=network_id, person_id=person_id, lock=True)
    if name is not KEEP:
        if not visible(name):
            raise InvalidInput("a person needs a name")
        person.display_name = name.strip()
    if external_ids is not KEEP:
        ids = _distinct(external_ids)
        _claim_ids(session, network_id=network_id, values=ids, person_id=person.id)
        for row in list(person.external_ids):
            if row.value not in ids:
                person.external_ids.remove(row)
        known = {row.value for row in person.external_ids}
        session.flush()
        for value in ids:
            if value not in known:
                person.external_ids.append(
                    ExternalId(network_id=network_id, person_id=person.id, value=value)
                )
    if email is not KEEP:
        person.email = email
    if timezone is not KEEP:
        person.timezone = check_timezone(timezone)
    if opted_out is not KEEP:
        person.opted_out = opted_out
    if isinstance(snoozed_until, datetime):
        if now is None:
            raise TypeError("a snooze is checked against now: pass now")
        person.snoozed_until = check_snooze(snoozed_until, now=now)
    elif snoozed_until is None:
        person.snoozed_until = None
    if ask_budget is not KEEP:
        person.ask_budget = ask_budget
    session.flush()
    return person


def delete_person(session: Session, *, network_id: int, person_id: int) -> None:
    """Remove a person with everything that hangs on them (ids, evidence, ties, asks, favours)."""
    person = get_person_by_id(session, network_id=network_id, person_id=person_id)
    session.delete(person)
    session.flush()


def list_evidence(
    session: Session, *, network_id: int, person_id: int | None, after_id: int | None, limit: int
) -> Sequence[Evidence]:
    """Up to ``limit + 1`` pieces of evidence by id after ``after_id``, of one person or all."""
    query = select(Evidence).where(Evidence.network_id == network_id)
    if person_id is not None:
        query = query.where(Evidence.person_id == person_id)
    if after_id is not None:
        query = query.where(Evidence.id > after_id)
    return session.scalars(query.order_by(Evidence.id).limit(limit + 1)).all()


def count_evidence(session: Session, *, network_id: int) -> int:
    """How many pieces of evidence the network holds."""
    count = session.scalar(select(func.count(Evidence.id)).where(Evidence.network_id == network_id))
    return int(count or 0)


def count_all_evidence(session: Session) -> int:
    """How many pieces of evidence the database holds, every network's."""
    return int(session.scalar(select(func.count(Evidence.id))) or 0)


def get_evidence(
    session: Session, *, network_id: int, evidence_id: int, lock: bool = False
) -> Evidence:
    """One piece of evidence of the network; NotFound for another network's, as for none.

    With ``lock``: for a change, under its person's lock (``lock_person``) and its own row's,
    read afresh, so an edit never races the evidence's deletion or its person's erasure.
    """
    if lock:
        found = get_evidence(session, network_id=network_id, evidence_id=evidence_id)
        get_member(session, network_id=network_id, person_id=found.person_id, lock=True)
    evidence = (
        session.scalar(
            select(Evidence)
            .where(Evidence.id == evidence_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if lock
        else session.get(Evidence, evidence_id)
    )
    if evidence is None or evidence.network_id != network_id:
        raise NotFound(f"no evidence #{evidence_id} in this network")
    return evidence


def create_evidence(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    kind: str,
    text: str,
    source: str,
    created_at: datetime,
    now: datetime,
    context: str = "",
    link: str | None = None,
    source_key: str | None = None,
) -> Evidence:
    """Add evidence to a person of the network; a repeated ``source_key`` returns the stored row."""
    check_evidence_date(created_at, now=now)
    get_member(session, network_id=network_id, person_id=person_id, lock=True)
    evidence = add_evidence(
        session,
        network_id=network_id,
        person_id=person_id,
        kind=kind,
        text=text,
        source=source,
        created_at=created_at,
        context=context,
        link=link,
        source_key=source_key,
    )
    if evidence.person_id != person_id:
        raise Conflict(
            f"source key {source_key!r} is already evidence of person #{evidence.person_id}"
        )
    return evidence


def update_evidence(
    session: Session,
    *,
    network_id: int,
    evidence_id: int,
    kind: str | Unchanged = KEEP,
    text: str | Unchanged = KEEP,
    context: str | Unchanged = KEEP,
    link: str | Unchanged | None = KEEP,
    created_at: datetime | Unchanged = KEEP,
    now: datetime,
) -> Evidence:
    """Change the given fields; new text or context drops the vector so it is embedded again."""
    if created_at is not KEEP:
        check_evidence_date(created_at, now=now)
    evidence = get_evidence(session, network_id=network_id, evidence_id=evidence_id, lock=True)
    if kind is not KEEP:
        if kind not in EVIDENCE_KINDS:
            raise InvalidInput(f"evidence kind must be one of {', '.join(EVIDENCE_KINDS)}")
        evidence.kind = kind
    if text is not KEEP and text.strip() != evidence.text:
        if not text.strip():
            raise InvalidInput("evidence text is empty")
        evidence.text = text.strip()
        evidence.embedding = None
        evidence.embedding_model = None
    if context is not KEEP and context.strip() != evidence.context:
        evidence.context = context.strip()
        evidence.embedding = None
        evidence.embedding_model = None
    if link is not KEEP:
        evidence.link = link
    if created_at is not KEEP:
        evidence.created_at = created_at
    session.flush()
    return evidence
