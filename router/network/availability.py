"""Who may be asked, and how close they are to the asker: the reads routing filters and weighs by."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from router.errors import InvalidInput
from router.storage.schema import Person, Tie

MAX_SNOOZE = timedelta(days=90)


def check_snooze(until: datetime, *, now: datetime) -> datetime:
    """``until`` if a snooze may end then: in the future, at most ``MAX_SNOOZE`` ahead (a snooze
    is a pause, not a way out: opting out is). Every way of snoozing someone checks here."""
    if not now < until <= now + MAX_SNOOZE:
        raise InvalidInput(f"a snooze ends in the future, at most {MAX_SNOOZE.days} days ahead")
    return until


def available_people(
    session: Session,
    network_id: int,
    pool: set[int],
    asker_id: int | None,
    exclude: frozenset[int],
    now: datetime,
) -> set[int]:
    """The people of ``pool`` who may be asked now: not the asker, not excluded, not opted out,
    deactivated (erased people are deactivated) or snoozed."""
    candidates = pool - set(exclude) - ({asker_id} if asker_id is not None else set())
    if not candidates:
        return set()
    rows = session.execute(
        select(Person.id, Person.snoozed_until).where(
            Person.network_id == network_id,
            Person.id.in_(candidates),
            Person.opted_out.is_(False),
            Person.deactivated.is_(False),
        )
    )
    return {int(row.id) for row in rows if row.snoozed_until is None or row.snoozed_until <= now}


def closeness_to_asker(
    session: Session, network_id: int, asker_id: int | None, people: set[int]
) -> dict[int, int]:
    """Favours each person has done for the asker plus those the asker has done for them."""
    if asker_id is None or not people:
        return {}
    rows = session.execute(
        select(Tie.helper_id, Tie.helped_id, Tie.count).where(
            Tie.network_id == network_id,
            or_(
                and_(Tie.helped_id == asker_id, Tie.helper_id.in_(people)),
                and_(Tie.helper_id == asker_id, Tie.helped_id.in_(people)),
            ),
        )
    )
    closeness: dict[int, int] = {}
    for helper, helped, count in rows:
        other = helper if helped == asker_id else helped
        closeness[other] = closeness.get(other, 0) + int(count)
    return closeness
