"""Working hours in the core (router.lifecycle.hours): parsing, and when an ask may go out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from router.errors import InvalidInput
from router.lifecycle.hours import WorkingHours, next_start, parse_hours

MONDAY_9_UTC = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_hours_are_whole_hours_start_to_end() -> None:
    assert parse_hours("9-17") == WorkingHours(9, 17)
    assert parse_hours(" 09:00-17:00 ") == WorkingHours(9, 17)
    assert str(parse_hours("22-6")) == "22-6"
    for bad in ("9", "nine-five", "9-9", "25-3", "9-25"):
        with pytest.raises(InvalidInput):
            parse_hours(bad)


def test_within_the_hours_in_the_persons_timezone_an_ask_goes_now() -> None:
    assert next_start(MONDAY_9_UTC, timezone="Europe/Paris", hours=WorkingHours(9, 17)) is None
    assert next_start(MONDAY_9_UTC, timezone="America/New_York", hours=None) is None


def test_before_the_hours_an_ask_waits_for_their_start_that_day() -> None:
    when = next_start(MONDAY_9_UTC, timezone="America/New_York", hours=WorkingHours(9, 17))
    assert when == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York


def test_after_the_hours_an_ask_waits_for_the_next_day() -> None:
    when = next_start(MONDAY_9_UTC, timezone="Asia/Tokyo", hours=WorkingHours(9, 18))
    assert when == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 09:00 Tuesday in Tokyo


def test_night_hours_span_midnight_and_an_unknown_timezone_reads_as_utc() -> None:
    night = WorkingHours(22, 6)
    assert (
        next_start(datetime(2026, 11, 23, 23, 0, tzinfo=UTC), timezone="UTC", hours=night) is None
    )
    assert next_start(datetime(2026, 11, 23, 3, 0, tzinfo=UTC), timezone="UTC", hours=night) is None
    assert next_start(MONDAY_9_UTC, timezone="Mars/Olympus", hours=night) == datetime(
        2026, 11, 23, 22, 0, tzinfo=UTC
    )
