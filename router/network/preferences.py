"""A person's own settings: opt out or in, weekly ask budget, stated interests.

Interests are evidence of kind ``interest`` keyed by person and topic, so routing finds them like
any other evidence. Snoozing is ``router.lifecycle.questions.snooze_person``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from router.errors import InvalidInput
from router.network import directory, people
from router.settings import Settings
from router.storage.schema import Evidence, Network, Person

INTEREST_SOURCE = "slack"
MAX_INTERESTS = 50


@dataclass(frozen=True)
class Standing:
    """What a person has set: shown by the Home tab and ``/ask budget``."""

    opted_out: bool
    snoozed_until: datetime | None
    budget: int  # asks per week in force
    own_budget: bool  # set by the person (else the network's or the default)
    interests: tuple[str, ...]


def set_opted_out(session: Session, *, network_id: int, person_id: int, opted_out: bool) -> Person:
    """Stop (or resume) being asked anything."""
    return directory.update_person(
        session, network_id=network_id, person_id=person_id, opted_out=opted_out
    )


def set_ask_budget(
    session: Session, *, network_id: int, person_id: int, per_week: int | None, limit: int = 50
) -> Person:
    """How many asks a week a person accepts; None goes back to the network's default."""
    if per_week is not None and not 0 <= per_week <= limit:
        raise InvalidInput(f"a weekly budget is from 0 to {limit}")
    return directory.update_person(
        session, network_id=network_id, person_id=person_id, ask_budget=per_week
    )


def budget_in_force(session: Session, *, person: Person, settings: Settings) -> tuple[int, bool]:
    """The weekly budget that applies to a person, and whether it is their own."""
    if person.ask_budget is not None:
        return person.ask_budget, True
    network_budget = session.scalar(
        select(Network.weekly_ask_budget).where(Network.id == person.network_id)
    )
    return (network_budget if network_budget is not None else settings.weekly_ask_budget), False


def _key(person_id: int, topic: str) -> str:
    return f"interest:{person_id}:{' '.join(topic.lower().split())}"[:200]


def list_interests(session: Session, *, network_id: int, person_id: int) -> list[str]:
    """A person's stated interests, oldest first."""
    return list(
        session.scalars(
            select(Evidence.text)
            .where(
                Evidence.network_id == network_id,
                Evidence.person_id == person_id,
                Evidence.kind == "interest",
            )
            .order_by(Evidence.id)
        )
    )


def add_interests(
    session: Session, *, network_id: int, person_id: int, topics: tuple[str, ...], now: datetime
) -> list[str]:
    """Add interests (evidence of kind ``interest``); returns the ones that were new."""
    people.get_person_by_id(session, network_id=network_id, person_id=person_id)
    known = {t.lower() for t in list_interests(session, network_id=network_id, person_id=person_id)}
    new = [topic for topic in topics if topic.lower() not in known]
    count = session.scalar(
        select(func.count(Evidence.id)).where(
            Evidence.network_id == network_id,
            Evidence.person_id == person_id,
            Evidence.kind == "interest",
        )
    )
    if int(count or 0) + len(new) > MAX_INTERESTS:
        raise InvalidInput(f"at most {MAX_INTERESTS} interests; remove some first")
    for topic in new:
        people.add_evidence(
            session,
            network_id=network_id,
            person_id=person_id,
            kind="interest",
            text=topic,
            source=INTEREST_SOURCE,
            source_key=_key(person_id, topic),
            created_at=now,
        )
    return new


def remove_interests(
    session: Session, *, network_id: int, person_id: int, topics: tuple[str, ...]
) -> list[str]:
    """Remove interests by their text (any case); returns the ones that were there."""
    wanted = {topic.lower() for topic in topics}
    rows = session.execute(
        select(Evidence.id, Evidence.text).where(
            Evidence.network_id == network_id,
            Evidence.person_id == person_id,
            Evidence.kind == "interest",
        )
    ).all()
    gone = [(row.id, row.text) for row in rows if row.text.lower() in wanted]
    if gone:
        session.execute(delete(Evidence).where(Evidence.id.in_([i for i, _ in gone])))
        session.flush()
    return [text for _, text in gone]


def standing(session: Session, *, person: Person, settings: Settings) -> Standing:
    budget, own = budget_in_force(session, person=person, settings=settings)
    return Standing(
        opted_out=person.opted_out,
        snoozed_until=person.snoozed_until,
        budget=budget,
        own_budget=own,
        interests=tuple(list_interests(session, network_id=person.network_id, person_id=person.id)),
    )
