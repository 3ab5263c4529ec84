"""CronJob schedules: the standard five-field cron syntax, as Kubernetes parses it.

Upstream validates and schedules with robfig/cron v3's `ParseStandard`
(pkg/apis/batch/validation, pkg/controller/cronjob/utils.go): minute, hour, day of
month, month, day of week; `*`, `?`, `a-b`, `*/N`, `a-b/N`, `N/S` (N to the field's
maximum), lists, month and weekday names, and the descriptors `@yearly`/`@annually`,
`@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`. When both day fields are
restricted a time matches either of them (a `*`, `?` or a step of 1 over the whole
range counts as unrestricted), as in robfig's `dayMatches`. `@every` is left out:
Kubernetes documents the five fields and the macros above only. Times are
wall-clock minutes in the CronJob's `timeZone` (UTC, the controller-manager's
local zone in the stand-in, when unset).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (minimum, maximum, names)
_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    (0, 6, {name: i for i, name in enumerate(_DAYS)}),
)
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    # robfig's star bit: the day fields match by AND only when one is unrestricted.
    any_day: bool
    any_weekday: bool

    def _day_matches(self, t: dt.datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, t: dt.datetime) -> dt.datetime | None:
        """The first scheduled wall-clock minute after naive local time ``t``."""
        t = t.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t.year + 5
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += dt.timedelta(minutes=1)
                continue
            return t
        return None


def _value(text: str, names: dict[str, int], field: str) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}: {field}")
    return int(text)


def _field(expr: str, index: int) -> tuple[frozenset[int], bool]:
    low, high, names = _FIELDS[index]
    values: set[int] = set()
    star = False
    for part in expr.split(","):
        range_, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r} in {part!r}")
            step = int(step_text)
        if range_ in ("*", "?"):
            start, end = low, high
            star = star or step == 1
        else:
            first, dash, last = range_.partition("-")
            start = _value(first, names, part)
            end = _value(last, names, part) if dash else (high if step_text else start)
        if start < low or end > high or start > end:
            raise CronError(f"{part!r} is beyond the range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def parse(schedule: str) -> Schedule:
    """A schedule, or :class:`CronError` with robfig's wording where it is short."""
    text = schedule.strip()
    if text.startswith("@"):
        if text not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = _DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {schedule}")
    parsed = [_field(f, i) for i, f in enumerate(fields)]
    return Schedule(
        minutes=parsed[0][0],
        hours=parsed[1][0],
        days=parsed[2][0],
        months=parsed[3][0],
        weekdays=parsed[4][0],
        any_day=parsed[2][1],
        any_weekday=parsed[4][1],
    )


def zone(name: str | None) -> dt.tzinfo:
    """The CronJob's time zone; :class:`CronError` for a name the tz database lacks."""
    if name is None:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name}") from None


def schedule_times(
    schedule: Schedule, tz: dt.tzinfo, earliest: dt.datetime, now: dt.datetime, cap: int = 100_000
) -> tuple[dt.datetime | None, int]:
    """The most recent scheduled time in (earliest, now], and how many there were
    (upstream's mostRecentScheduleTime; it warns past 100 missed)."""
    local = earliest.astimezone(tz).replace(tzinfo=None)
    last, count = None, 0
    while count < cap:
        nxt = schedule.next_after(local)
        if nxt is None:
            break
        when = nxt.replace(tzinfo=tz).astimezone(dt.UTC)
        if when > now:
            break
        last, local, count = when, nxt, count + 1
    return last, count
