"""Business hours: when a calendar is open, and how much business time lies between two instants.

Pure (no database, no clock). Hours are local wall-clock times in the calendar's zone, so a 09:00-17:00
day stays 09:00-17:00 across daylight-saving changes; a change inside the hours makes that day an hour
shorter or longer, as it really is. A time the clocks skip counts from the jump; a time they repeat means
its first occurrence. Every answer is an aware datetime in UTC.

Arithmetic is done in whole microseconds (timedelta), day by day, never minute by minute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holiday_tables

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SECONDS = 24 * 3600
MAX_CLOSED_DAYS = 3660  # give up after ten years without an opening instead of looping forever
_CLOCK = re.compile(r"(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))", re.ASCII)
_DAY_CACHE_SIZE = 4096

Interval = tuple[datetime, datetime]
WeeklyHours = tuple[tuple[tuple[int, int], ...], ...]  # per weekday (Monday first): (start, end) seconds


class CalendarNeverOpen(ValueError):
    """The calendar has no business hours, so no amount of business time can ever elapse."""


def parse_clock(text: str) -> int:
    """Seconds after midnight of an "HH:MM" wall-clock time ("24:00" is the end of the day)."""
    match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a time of day as HH:MM (00:00 to 24:00)")
    hours, minutes = (match[1], match[2]) if match[1] is not None else (match[3], match[4])
    return int(hours) * 3600 + int(minutes) * 60


def parse_hours(hours: Mapping[str, Sequence[Sequence[str]]]) -> WeeklyHours:
    """Weekly hours {"mon": [["09:00", "17:00"]], ...} as seconds per weekday; ValueError if malformed.

    Days left out are closed; each interval needs start < end, and a day's intervals may touch but not
    overlap.
    """
    unknown = sorted(set(hours) - set(WEEKDAYS))
    if unknown:
        raise ValueError(f"unknown weekday(s) {', '.join(unknown)}; use {', '.join(WEEKDAYS)}")
    week = []
    for day in WEEKDAYS:
        intervals = []
        for pair in hours.get(day) or ():
            if isinstance(pair, str) or len(pair) != 2:
                raise ValueError(f"{day}: each interval is a pair [start, end], not {pair!r}")
            start, end = parse_clock(pair[0]), parse_clock(pair[1])
            if start >= end:
                raise ValueError(f"{day}: {pair[0]}-{pair[1]} must start before it ends")
            intervals.append((start, end))
        intervals.sort()
        for (_, end), (start, _) in pairwise(intervals):
            if start < end:
                raise ValueError(f"{day}: intervals overlap")
        week.append(tuple(intervals))
    return tuple(week)


class BusinessCalendar:
    """Open hours by weekday in a time zone, minus holidays (listed dates and a country's public ones)."""

    def __init__(
        self,
        timezone: str = "UTC",
        hours: Mapping[str, Sequence[Sequence[str]]] | None = None,
        holidays: Iterable[str | date] = (),
        holiday_country: str | None = None,
        holiday_subdivision: str | None = None,
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.week = parse_hours(hours or {})
        self.holidays = frozenset(_as_date(day) for day in holidays)
        self.holiday_country = holiday_country
        self.holiday_subdivision = holiday_subdivision
        self._always = False
        self._country_years: dict[int, frozenset[date]] = {}
        self._days: dict[date, tuple[Interval, ...]] = {}

    @classmethod
    def always(cls) -> BusinessCalendar:
        """Open around the clock, every day, no holidays (a policy without a calendar)."""
        calendar = cls("UTC", {day: [["00:00", "24:00"]] for day in WEEKDAYS})
        calendar._always = True
        return calendar

    @classmethod
    def from_row(cls, row: Any) -> BusinessCalendar:
        """The calendar a stored BusinessCalendar row describes."""
        return cls(
            row.timezone,
            row.hours,
            row.holidays or (),
            row.holiday_country,
            row.holiday_subdivision,
        )

    @property
    def ever_open(self) -> bool:
        """False when no weekday has any hours."""
        return any(self.week)

    def is_holiday(self, day: date) -> bool:
        """True on a listed holiday or one of the country's public holidays (local dates)."""
        if day in self.holidays:
            return True
        if self.holiday_country is None:
            return False
        if day.year not in self._country_years:
            table = holiday_tables.country_holidays(
                self.holiday_country, subdiv=self.holiday_subdivision, years=day.year
            )
            self._country_years[day.year] = frozenset(d for d in table if d.year == day.year)
        return day in self._country_years[day.year]

    def is_open(self, at: datetime) -> bool:
        """True if `at` falls inside business hours (an interval's start is open, its end is not)."""
        at = _utc(at)
        if self._always:
            return True
        local_day = at.astimezone(self.zone).date()
        return any(
            start <= at < end
            for day in (local_day - timedelta(days=1), local_day)
            for start, end in self._intervals(day)
        )

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of business time have elapsed counting from `start`.

        Counting starts at the next opening when `start` is outside hours, so `add(start, 0)` is `start`
        when open and the next opening otherwise. CalendarNeverOpen if there are no hours at all.
        """
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        start = _utc(start)
        remaining = timedelta(seconds=seconds)
        if self._always:
            return start + remaining
        if not self.ever_open:
            raise CalendarNeverOpen("the calendar has no business hours")
        closed_days = 0
        for day, intervals in self._days_from(start):
            for begin, end in intervals:
                if remaining <= end - begin:
                    return begin + remaining
                remaining -= end - begin
            closed_days = 0 if intervals else closed_days + 1
            if closed_days > MAX_CLOSED_DAYS:
                raise CalendarNeverOpen(f"the calendar is closed for ten years after {day.isoformat()}")
        raise AssertionError("unreachable: _days_from never ends")  # pragma: no cover

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Business seconds in [start, end); 0 when `end` is not after `start`."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return 0.0
        if self._always:
            return (end - start).total_seconds()
        total = timedelta(0)
        last_day = end.astimezone(self.zone).date()
        for day, intervals in self._days_from(start):
            for begin, finish in intervals:
                if begin < end:
                    total += min(finish, end) - begin
            if day >= last_day:
                return total.total_seconds()
        raise AssertionError("unreachable: _days_from never ends")  # pragma: no cover

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when open, else the next instant the calendar opens."""
        return self.add(at, 0)

    def _days_from(self, start: datetime) -> Iterator[tuple[date, tuple[Interval, ...]]]:
        """Each local day from the one before `start`'s, with its open intervals in UTC, for ever."""
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        cursor = start
        while True:
            intervals = tuple(
                (max(begin, cursor), end) for begin, end in self._intervals(day) if end > cursor
            )
            if intervals:
                cursor = intervals[-1][1]
            yield day, intervals
            day += timedelta(days=1)

    def _intervals(self, day: date) -> tuple[Interval, ...]:
        """A local day's open intervals as UTC instants, in order, never overlapping."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        intervals: list[Interval] = []
        if not self.is_holiday(day):
            cursor = None
            for start, end in self.week[day.weekday()]:
                begin, finish = self._instant(day, start), self._instant(day, end)
                if cursor is not None:
                    begin = max(begin, cursor)  # a wall-clock gap (spring forward) must not overlap
                finish = max(finish, begin)
                if finish > begin:
                    intervals.append((begin, finish))
                cursor = finish
        if len(self._days) >= _DAY_CACHE_SIZE:
            self._days.clear()
        self._days[day] = result = tuple(intervals)
        return result

    def _instant(self, day: date, seconds: int) -> datetime:
        """The UTC instant the local wall clock reads this time of day.

        When the clocks go back, the first time it does; when they spring forward past it, the instant of
        the jump (the first moment the clock reads later).
        """
        if seconds == DAY_SECONDS:
            day, seconds = day + timedelta(days=1), 0
        naive = datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60))
        first = naive.replace(tzinfo=self.zone).astimezone(UTC)
        if first.astimezone(self.zone).replace(tzinfo=None) == naive:
            return first
        # in a gap: fold=1 reads the time with the later offset (before the jump), fold=0 after it
        low = int(naive.replace(tzinfo=self.zone, fold=1).timestamp())
        high = int(first.timestamp())
        while high - low > 1:
            middle = (low + high) // 2
            reads = datetime.fromtimestamp(middle, self.zone).replace(tzinfo=None)
            low, high = (low, middle) if reads >= naive else (middle, high)
        return datetime.fromtimestamp(high, UTC)


def _as_date(value: str | date) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"a holiday is a date, not a datetime: {value!r}")
    return value if isinstance(value, date) else date.fromisoformat(value)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone")
    return at.astimezone(UTC)
