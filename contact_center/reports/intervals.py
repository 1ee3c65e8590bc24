"""Reporting intervals: 15-minute buckets aligned in UTC, rolled up to hours, local days and local weeks.

Counters are kept per 15 minutes of UTC. Every time zone in use today is offset from UTC by a multiple of 15
minutes, so each bucket lies inside one local hour and one local day, on days of 23, 24 or 25 hours alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

INTERVAL = timedelta(minutes=15)
INTERVAL_SECONDS = int(INTERVAL.total_seconds())


class Grain(StrEnum):
    """How finely a report groups its rows."""

    QUARTER = "15m"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


def interval_start(at: datetime | float) -> datetime:
    """The start (UTC) of the 15-minute interval holding `at` (an aware datetime or a POSIX time)."""
    seconds = at if isinstance(at, int | float) else at.timestamp()
    return datetime.fromtimestamp(seconds - seconds % INTERVAL_SECONDS, UTC)


def local_day(start: datetime, zone: ZoneInfo) -> date:
    """The business day (in `zone`) that an interval starting at `start` belongs to."""
    return start.astimezone(zone).date()


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant where local day `day` begins."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def week_of(day: date) -> date:
    """The Monday that begins the ISO week of `day`."""
    return day - timedelta(days=day.weekday())


def bucket_of(grain: Grain, day: date, zone: ZoneInfo, start: datetime | None = None) -> datetime:
    """The start, as a local aware datetime, of the report row that an interval (starting at `start`, on local
    day `day`) falls in; days and weeks need only the day."""
    if grain in (Grain.QUARTER, Grain.HOUR):
        if start is None:
            raise ValueError(f"a {grain.value} bucket needs the interval's start")
        # the UTC hour shown in local time: the two 01:00 hours of an autumn change stay two rows
        return (start if grain is Grain.QUARTER else start.replace(minute=0)).astimezone(zone)
    first = week_of(day) if grain is Grain.WEEK else day
    return datetime(first.year, first.month, first.day, tzinfo=zone)


def day_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where local day `first` begins and local day `last` ends."""
    begin = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    after = last + timedelta(days=1)
    end = datetime(after.year, after.month, after.day, tzinfo=zone).astimezone(UTC)
    return begin, end
