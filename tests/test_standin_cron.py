"""CronJob schedules parsed and stepped as robfig/cron's ParseStandard does."""

from __future__ import annotations

import datetime as dt

import pytest
from k8s_standin import cron

UTC = dt.UTC


def nxt(schedule: str, after: str) -> str:
    found = cron.parse(schedule).next_after(dt.datetime.fromisoformat(after))
    assert found is not None
    return found.isoformat(timespec="minutes")


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("* * * * *", "2026-03-01T10:00:30", "2026-03-01T10:01"),
        ("*/15 * * * *", "2026-03-01T10:01", "2026-03-01T10:15"),
        ("5,35 1-3 * * *", "2026-03-01T03:40", "2026-03-02T01:05"),
        ("0 0 * * mon", "2026-03-01T00:00", "2026-03-02T00:00"),  # 1 March 2026 is a Sunday
        # Both day fields restricted: either matches.
        ("0 0 13 * fri", "2026-03-01T00:00", "2026-03-06T00:00"),
        ("0 0 1 JAN *", "2026-03-01T00:00", "2027-01-01T00:00"),
        ("@hourly", "2026-03-01T10:00", "2026-03-01T11:00"),
        ("10/20 * * * *", "2026-03-01T10:31", "2026-03-01T10:50"),
    ],
)
def test_next_after(schedule: str, after: str, expected: str) -> None:
    assert nxt(schedule, after) == expected


@pytest.mark.parametrize(
    "schedule", ["@every 1m", "60 * * * *", "* * * *", "* * * * * *", "*/0 * * * *", "5-1 * * * *"]
)
def test_refused(schedule: str) -> None:
    with pytest.raises(cron.CronError):
        cron.parse(schedule)


def test_most_recent_time_and_missed_count() -> None:
    every = cron.parse("* * * * *")
    earliest = dt.datetime(2026, 3, 1, 10, 0, 10, tzinfo=UTC)
    now = dt.datetime(2026, 3, 1, 10, 3, 5, tzinfo=UTC)
    last, count = cron.schedule_times(every, UTC, earliest, now)
    assert last == dt.datetime(2026, 3, 1, 10, 3, tzinfo=UTC) and count == 3


def test_time_zone() -> None:
    berlin = cron.zone("Europe/Berlin")
    daily = cron.parse("0 9 * * *")
    earliest = dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    last, _ = cron.schedule_times(
        daily, berlin, earliest, dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    )
    assert last == dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(cron.CronError):
        cron.zone("Mars/Olympus")
