"""Many people, evidence rows and ties written at once: the importers' way to write.

The same checks and the same rows as ``ensure_person``, ``add_evidence`` and ``record_tie``, but a
few statements per thousand rows instead of a flush per row, so an import's write phase takes
seconds and holds the database's write lock (SQLite) or the network's change-log lock
(PostgreSQL) only that long. Evidence inserts still fire the change-log triggers row by row.
Functions take a session the caller owns (they never commit).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from router.errors import InvalidInput
from router.network.people import check_evidence
from router.question_text import visible
from router.storage.schema import Evidence, ExternalId, Person, Tie
from router.storage.text import storable

LOOKUP_CHUNK = 1000  # values per IN (...) lookup, well under every driver's parameter limit

T = TypeVar("T")


@dataclass(frozen=True)
class NewEvidence:
    """One piece of evidence to store, as ``add_evidence`` takes it."""

    person_id: int
    kind: str
    text: str
    source: str
    created_at: datetime
    context: str = ""
    link: str | None = None
    source_key: str | None = None


def chunks(items: Sequence[T], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: one ``IN (...)`` lookup each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ensure_people(
    session: Session, *, network_id: int, names: Mapping[str, str], now: datetime
) -> dict[str, int]:
    """The person id of each external id in ``names`` (external id -> display name), creating
    the people none matches and renaming those whose name changed, like ``ensure_person``.
    The result is keyed by the stripped external ids."""
    clean: dict[str, str] = {}
    for value, name in names.items():
        storable(value, what="an external id")
        storable(name, what="a name")
        if not value.strip():
            raise InvalidInput("a person needs at least one external id")
        if not visible(name):  # blank on every screen: zero-width spaces, fillers
            raise InvalidInput("a person needs a name")
        clean[value.strip()] = name.strip()
    wanted = list(clean)
    found: dict[str, int] = {}
    renames: list[dict[str, Any]] = []
    for part in chunks(wanted):
        rows = session.execute(
            select(ExternalId.value, ExternalId.person_id, Person.display_name)
            .join(Person, Person.id == ExternalId.person_id)
            .where(ExternalId.network_id == network_id, ExternalId.value.in_(part))
        ).all()
        for row in rows:
            found[row.value] = row.person_id
            if row.display_name != clean[row.value]:
                renames.append({"id": row.person_id, "display_name": clean[row.value]})
    if renames:
        session.execute(update(Person), renames)
    missing = [value for value in wanted if value not in found]
    if missing:
        created = session.execute(
            insert(Person).returning(Person.id, sort_by_parameter_order=True),
            [
                {
                    "network_id": network_id,
                    "display_name": clean[value],
                    "created_at": now,
                    "timezone": "UTC",
                    "opted_out": False,
                    "deactivated": False,
                }
                for value in missing
            ],
        ).all()
        ids = [row.id for row in created]
        session.execute(
            insert(ExternalId),
            [
                {"network_id": network_id, "person_id": person_id, "value": value}
                for value, person_id in zip(missing, ids, strict=True)
            ],
        )
        found.update(zip(missing, ids, strict=True))
    return found


def stored_keys(session: Session, *, network_id: int, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` the network's evidence already carries as ``source_key``."""
    wanted = list(dict.fromkeys(keys))
    stored: set[str] = set()
    for part in chunks(wanted):
        found = session.scalars(
            select(Evidence.source_key).where(
                Evidence.network_id == network_id, Evidence.source_key.in_(part)
            )
        )
        stored.update(key for key in found if key is not None)
    return stored


def add_evidence_rows(session: Session, *, network_id: int, rows: Sequence[NewEvidence]) -> int:
    """Store evidence (not yet embedded), skipping rows whose ``source_key`` is already stored or
    repeated; returns how many rows were inserted. Every row is checked before any is written."""
    for row in rows:
        check_evidence(row.kind, row.text, row.context)
    stored = stored_keys(
        session, network_id=network_id, keys=(r.source_key for r in rows if r.source_key)
    )
    fresh: list[dict[str, Any]] = []
    for row in rows:
        if row.source_key is not None:
            if row.source_key in stored:
                continue
            stored.add(row.source_key)
        fresh.append(
            {
                "network_id": network_id,
                "person_id": row.person_id,
                "kind": row.kind,
                "text": row.text.strip(),
                "context": row.context.strip(),
                "source": row.source,
                "source_key": row.source_key,
                "link": row.link,
                "weight": 1.0,
                "created_at": row.created_at,
                "embedding": None,
                "embedding_model": None,
            }
        )
    if fresh:
        session.execute(insert(Evidence), fresh)
    return len(fresh)


def record_ties(
    session: Session, *, network_id: int, helped: Iterable[tuple[int, int, datetime]]
) -> int:
    """Count each ``(helper, helped, at)`` like ``record_tie``: summed per pair in memory, then
    one update or insert per pair; self-help is not a tie. Returns how many were counted."""
    tally: dict[tuple[int, int], tuple[int, datetime]] = {}
    for helper_id, helped_id, at in helped:
        if helper_id == helped_id:
            continue
        count, last = tally.get((helper_id, helped_id), (0, at))
        tally[(helper_id, helped_id)] = (count + 1, max(last, at))
    if not tally:
        return 0
    existing: dict[tuple[int, int], tuple[int, int, datetime]] = {}
    helpers = sorted({helper for helper, _ in tally})
    for part in chunks(helpers):
        for tie_id, helper_id, helped_id, count, last_at in session.execute(
            select(Tie.id, Tie.helper_id, Tie.helped_id, Tie.count, Tie.last_at).where(
                Tie.network_id == network_id, Tie.helper_id.in_(part)
            )
        ):
            existing[(helper_id, helped_id)] = (tie_id, count, last_at)
    changed: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for (helper_id, helped_id), (count, last) in tally.items():
        if (helper_id, helped_id) in existing:
            tie_id, before, before_at = existing[(helper_id, helped_id)]
            changed.append({"id": tie_id, "count": before + count, "last_at": max(before_at, last)})
        else:
            new.append(
                {
                    "network_id": network_id,
                    "helper_id": helper_id,
                    "helped_id": helped_id,
                    "count": count,
                    "last_at": last,
                }
            )
    if changed:
        session.execute(update(Tie), changed)
    if new:
        session.execute(insert(Tie), new)
    return sum(count for count, _ in tally.values())
