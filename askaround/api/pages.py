"""Cursor pagination for list endpoints: ``?limit=N&cursor=C``, answered with ``next_cursor``.

Pages are ordered by id; the cursor is opaque to clients (today the last id of the page), so
rows created while a client pages through never shift or repeat what it has seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from askaround.api.fields import PlainDigits
from router.errors import InvalidInput
from router.storage.schema.base import MAX_ID

MAX_PAGE = 200
DEFAULT_PAGE = 50

Limit = Annotated[
    int,
    PlainDigits,
    Query(ge=1, le=MAX_PAGE, description=f"Items per page, 1 to {MAX_PAGE}."),
]
Cursor = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{1,10}$",
        description="The `next_cursor` of the previous page; omit it for the first page.",
    ),
]

Item = TypeVar("Item")  # a core value (pydantic dataclass), returned as it is
Row = TypeVar("Row")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = None


def after_id(cursor: str | None) -> int | None:
    """The id a page starts after; InvalidInput for a cursor this API cannot have given out."""
    if not cursor:
        return None
    value = int(cursor)
    if value > MAX_ID:
        raise InvalidInput("this cursor was not given out by this API; start again without one")
    return value


def page_of(
    rows: Sequence[Row], *, limit: int, row_id: Callable[[Row], int], render: Callable[[Row], Item]
) -> Page[Item]:
    """A page from up to ``limit + 1`` rows: the extra row only says another page exists."""
    shown = rows[:limit]
    more = len(rows) > limit
    return Page(
        items=[render(row) for row in shown],
        next_cursor=str(row_id(shown[-1])) if more and shown else None,
    )
