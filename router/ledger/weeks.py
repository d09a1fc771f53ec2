"""ISO weeks (UTC, Monday 00:00 to Monday 00:00): naming one, its bounds, a moment inside it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from router.errors import InvalidInput

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def iso_week(moment: datetime) -> str:
    """``2026-W48`` for any moment in that ISO week (UTC)."""
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """The first moment of an ISO week and the first moment of the next, in UTC."""
    match = _WEEK.match(week.strip())
    if match is None:
        raise InvalidInput(f"a week looks like 2026-W48, not {week!r}")
    try:
        start = datetime.fromisocalendar(int(match[1]), int(match[2]), 1).replace(tzinfo=UTC)
        end = start + timedelta(days=7)
    except (ValueError, OverflowError) as exc:  # the last week of year 9999 ends in year 10000
        raise InvalidInput(f"there is no week {week}") from exc
    return start, end


def moment_in_week(week: str, *, now: datetime) -> datetime:
    """The ``now`` a summary of ``week`` is computed at: ``now`` itself, or the week's last moment."""
    start, end = week_bounds(week)
    if start > now:
        raise InvalidInput(f"week {week} has not started yet")
    return min(now, end - timedelta(microseconds=1))
