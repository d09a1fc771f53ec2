"""Member sync: names, timezones and deactivations from ``users.list`` into the network's people.

Fetching (all pages, following ``next_cursor``) happens before any write, so a sync that fails
half-way through the listing stores nothing; applying is one pass in the caller's transaction,
each member in a savepoint: one the core cannot store is skipped (and counted), never the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from bots import workspace
from router.errors import AskaroundError, Unavailable
from router.progress import Progress, silent
from router.storage.schema import Person

log = logging.getLogger(__name__)

# What one member can fail with that is about that member alone: an id the core refuses, or
# (should a field still be beyond its column) the database's refusal of a value.
UNSTORABLE = (AskaroundError, DataError)

PAGE_SIZE = 200
MAX_PAGES = 10_000


@dataclass
class MemberSyncReport:
    members: int = 0
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    skipped_bots: int = 0
    skipped_invalid: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def fetch_members(client: WebClient, *, progress: Progress = silent) -> list[dict[str, Any]]:
    """Every member of the workspace, page by page; Unavailable if Slack cannot be reached."""
    members: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        try:
            response = client.users_list(limit=PAGE_SIZE, cursor=cursor)
        except (SlackApiError, OSError) as exc:
            raise Unavailable(f"Slack users.list failed: {exc}") from exc
        page = response.get("members") or []
        members.extend(member for member in page if isinstance(member, dict))
        progress("fetching members", len(members), 0)
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return members
    raise Unavailable("Slack users.list did not stop paginating")


def apply_members(
    session: Session, *, network_id: int, members: list[dict[str, Any]], now: datetime
) -> MemberSyncReport:
    """Create or update everyone listed; members marked deleted are deactivated, not removed."""
    report = MemberSyncReport()
    for member in members:
        if not workspace.is_human(member):
            report.skipped_bots += 1
            continue
        try:
            with session.begin_nested():
                before = _snapshot(
                    workspace.find_member(
                        session, network_id=network_id, user_id=str(member.get("id"))
                    )
                )
                person = workspace.apply_member(
                    session, network_id=network_id, user=member, now=now
                )
        except UNSTORABLE as exc:
            _skipped(member, exc)
            report.skipped_invalid += 1
            continue
        report.members += 1
        if before is None:
            report.created += 1
        elif _snapshot(person) != before:
            report.updated += 1
        report.deactivated += bool(person.deactivated)
    return report


def apply_one(
    session: Session, *, network_id: int, member: dict[str, Any], now: datetime
) -> Person | None:
    """One member (a ``team_join`` or ``user_change`` event), in a savepoint: None when it
    cannot be stored, so the caller's other writes still commit."""
    try:
        with session.begin_nested():
            return workspace.apply_member(session, network_id=network_id, user=member, now=now)
    except UNSTORABLE as exc:
        _skipped(member, exc)
        return None


def _skipped(member: dict[str, Any], exc: Exception) -> None:
    shown = str(member.get("id"))[:40].encode("unicode_escape").decode("ascii")
    log.warning(
        "Slack member %s skipped: %s",
        shown,
        exc if isinstance(exc, AskaroundError) else type(exc).__name__,
    )


def _snapshot(person: Any) -> tuple[Any, ...] | None:
    if person is None:
        return None
    return (person.display_name, person.timezone, person.email, person.deactivated)
