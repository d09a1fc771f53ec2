"""People mirrored from another system's profiles (a Slack workspace's members): what that system
sends is taken as it comes, cleaned rather than refused.

An API client that sends a NUL or a name too long hears why (``people.ensure_person`` refuses it);
a profile synced from elsewhere has nobody to tell, and refusing it would leave that person out of
every sync. So names and time zones lose what no database stores (NUL characters, lone
surrogates) and are clipped to their column; an address or time zone that cannot be used is left
out; the person is still created or updated.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute, Session

from router.errors import InvalidInput
from router.network import people
from router.question_text import visible
from router.storage.schema import ExternalId, Person
from router.storage.text import clipped, unstorable_reason

EMAIL_PREFIX = "email:"


def column_size(attribute: InstrumentedAttribute[Any]) -> int:
    """How many characters a string column holds (PostgreSQL refuses more; SQLite stores them)."""
    length = getattr(attribute.property.columns[0].type, "length", None)
    assert isinstance(length, int), attribute
    return length


NAME_SIZE = column_size(Person.display_name)
TIMEZONE_SIZE = column_size(Person.timezone)
EXTERNAL_ID_SIZE = column_size(ExternalId.value)
# An address is kept on the person and as the id ``email:<address>``: it must fit both.
EMAIL_SIZE = min(column_size(Person.email), EXTERNAL_ID_SIZE - len(EMAIL_PREFIX))


def mirrored_name(*candidates: object) -> str | None:
    """The first candidate that is text with something visible left once cleaned (not only
    zero-width spaces), clipped to a name."""
    for value in candidates:
        if isinstance(value, str) and visible(name := clipped(value, NAME_SIZE)):
            return name
    return None


def mirrored_email(value: object) -> str | None:
    """The address in lower case, or None unless it looks like one and can be stored whole."""
    if not isinstance(value, str):
        return None
    address = value.strip().lower()
    if "@" not in address or len(address) > EMAIL_SIZE or any(ch.isspace() for ch in address):
        return None
    return address if unstorable_reason(address) is None else None


def mirrored_timezone(value: object) -> str | None:
    """The IANA time zone named, or None when it is not one this machine knows."""
    if not isinstance(value, str) or not 0 < len(value) <= TIMEZONE_SIZE:
        return None
    if unstorable_reason(value) is not None:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return value


def mirror_person(
    session: Session,
    *,
    network_id: int,
    external_id: str,
    name: object,
    now: datetime,
    email: object = None,
    timezone: object = None,
    deactivated: bool | None = None,
) -> Person:
    """Create or update the person another system knows as ``external_id`` from its profile.

    The name and time zone are cleaned (see the module); an address is attached as the id
    ``email:<address>`` unless it already names someone else, and dropped if it cannot be stored.
    InvalidInput only when ``external_id`` itself cannot be stored: then there is nobody to update.
    """
    reason = unstorable_reason(external_id)
    if reason is not None or not external_id.strip() or len(external_id) > EXTERNAL_ID_SIZE:
        raise InvalidInput(f"an external id {reason or f'has 1 to {EXTERNAL_ID_SIZE} characters'}")
    person = people.ensure_person(
        session,
        network_id=network_id,
        external_ids=[external_id],
        display_name=mirrored_name(name) or external_id,
        now=now,
        timezone=mirrored_timezone(timezone),
    )
    address = mirrored_email(email)
    if address is not None:
        owner = people.find_person(
            session, network_id=network_id, external_id=f"{EMAIL_PREFIX}{address}"
        )
        if owner is None:
            people.ensure_person(
                session,
                network_id=network_id,
                external_ids=[external_id, f"{EMAIL_PREFIX}{address}"],
                display_name=person.display_name,
                now=now,
                email=address,
            )
        elif owner.id == person.id and person.email != address:
            person.email = address
    if deactivated is not None and person.deactivated != deactivated:
        person.deactivated = deactivated
    session.flush()
    return person
