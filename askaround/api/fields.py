"""Field types shared by bodies, paths and queries: the input limits of the API in one place.

Every string that may be stored is refused when PostgreSQL could not store it (NUL characters,
lone surrogates) or when it is longer than its column, so bad input is a 422, never a 500.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
)

from router.network.people import EMAIL_PATTERN, EXTERNAL_ID_PATTERN
from router.network.profiles import EMAIL_SIZE, EXTERNAL_ID_SIZE
from router.storage.schema.base import MAX_ID

MAX_TEXT = 20_000  # evidence text and context, answers
MAX_NAME = 200
MAX_EXTERNAL_ID = EXTERNAL_ID_SIZE
MAX_EXTERNAL_IDS = 20


def storable(value: str) -> str:
    """Refuse text a database cannot store: NUL characters and unpaired surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


def plain_digits(value: object) -> object:
    """Refuse a number in a path or query not written as the API writes it: ASCII digits, no
    sign, space, ``_``, decimal point or leading zero. ``int()`` reads ``2_0``, `` 20``, ``+20``
    and ``020`` as 20, so one id would answer to many spellings (``[0-9]`` is ASCII only)."""
    if isinstance(value, str) and not re.fullmatch(r"0|[1-9][0-9]*", value):
        raise ValueError(
            f"{value[:40]!r} is not a number in plain digits 0-9 (no sign, spaces, "
            "separators, decimal point or leading zeros), like 20"
        )
    return value


# Put before a path or query int's Path()/Query(), so pydantic's lax str-to-int never sees it.
PlainDigits = BeforeValidator(plain_digits)


def not_a_number(value: object) -> object:
    """Refuse a number where a time is expected: times are ISO 8601 (an epoch is ambiguous,
    seconds or milliseconds, and pydantic would guess)."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+(\.\d*)?\s*", value)
    ):
        raise ValueError("must be an ISO 8601 date and time, like 2026-12-01T09:00:00Z")
    return value


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("date is out of range") from exc


def _text(min_length: int, max_length: int) -> tuple[StringConstraints, AfterValidator]:
    return (
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(storable),
    )


Name = Annotated[str, *_text(1, MAX_NAME)]
ExternalIdText = Annotated[str, *_text(1, MAX_EXTERNAL_ID)]
# An id a person is stored under: ``kind:value``, exactly what the people importer accepts.
NewExternalId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=MAX_EXTERNAL_ID, pattern=f"^{EXTERNAL_ID_PATTERN}$"
    ),
    AfterValidator(storable),
]
LongText = Annotated[str, *_text(1, MAX_TEXT)]
OptionalLongText = Annotated[str, *_text(0, MAX_TEXT)]
# The address the email channel sends to: what the people importer accepts, nothing else.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=EMAIL_SIZE, pattern=f"^{EMAIL_PATTERN}$"),
    AfterValidator(storable),
]
Timezone = Annotated[str, *_text(1, 64)]
# A link people click (the web page, Slack, email): http(s) only, and none of the characters
# Slack's link markup ``<url|text>`` or HTML would read as the end of it.
Link = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://[^\s<>|\"]+$"),
    AfterValidator(storable),
]
Source = Annotated[str, *_text(1, 40)]
SourceKey = Annotated[str, *_text(1, 200)]
UtcDateTime = Annotated[datetime, BeforeValidator(not_a_number), AfterValidator(as_utc)]

Id = Annotated[
    int, PlainDigits, Path(ge=1, le=MAX_ID, description="A numeric id this API returned.")
]
# The same id in a body: beyond MAX_ID it names nothing, and a database could not even look it up.
BodyId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class Body(BaseModel):
    """A request body: unknown fields are refused (a typo is an error, not a silent no-op)."""

    model_config = ConfigDict(extra="forbid")
