"""Bringing people and what they know into a network from files: Stack Exchange dumps, people files.

Every importer writes into the caller's session (flush, never commit), so one import is one
transaction; it is idempotent (evidence carries a ``source_key``, importing twice changes nothing)
and a malformed file raises ``ImportFormatError`` naming the file and line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from router.errors import InvalidInput


@dataclass
class ImportReport:
    """What an import did: rows created, rows already there ("seen"), and input it passed over."""

    people_created: int = 0
    people_seen: int = 0
    evidence_created: int = 0
    evidence_seen: int = 0
    evidence_removed: int = 0
    ties_added: int = 0
    ties_seen: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def summary(self) -> str:
        """One line for people: 'people 12 new / 3 known, evidence 40 new / 0 known, ...'."""
        parts = [
            f"people {self.people_created} new / {self.people_seen} known",
            f"evidence {self.evidence_created} new / {self.evidence_seen} known",
        ]
        if self.evidence_removed:
            parts.append(f"{self.evidence_removed} evidence removed")
        if self.ties_added or self.ties_seen:
            parts.append(f"ties {self.ties_added} added / {self.ties_seen} known")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        return ", ".join(parts)


def parse_when(text: str) -> datetime:
    """An ISO date (``2016-01-01``) or timestamp as aware UTC; a naive time is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"{text!r} is not an ISO date or timestamp (e.g. 2016-01-01 or 2016-01-01T12:00:00Z)"
        ) from exc
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
