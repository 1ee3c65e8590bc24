"""Business-hours calendars: opening, adding business time and measuring it, across weekends, holidays
(listed and a country's) and daylight-saving changes. Expected instants are worked out by hand."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact_center.tickets.calendar import BusinessCalendar, CalendarNeverOpen, parse_clock, parse_hours

LONDON = ZoneInfo("Europe/London")
WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
HOUR = 3600


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def office() -> BusinessCalendar:
    return BusinessCalendar("Europe/London", WEEKDAYS_9_TO_5)


# Weekends and holidays


def test_friday_afternoon_plus_two_hours_is_monday_ten(office):
    assert office.add(london(2026, 1, 9, 16), 2 * HOUR) == utc(2026, 1, 12, 10)


def test_a_listed_holiday_on_monday_moves_the_answer_to_tuesday():
    calendar = BusinessCalendar("Europe/London", WEEKDAYS_9_TO_5, holidays=["2026-01-12"])
    assert calendar.add(london(2026, 1, 9, 16), 2 * HOUR) == utc(2026, 1, 13, 10)
    assert not calendar.is_open(london(2026, 1, 12, 11))


def test_holidays_may_be_date_objects():
    calendar = BusinessCalendar("UTC", WEEKDAYS_9_TO_5, holidays=[date(2026, 1, 12)])
    assert calendar.add(utc(2026, 1, 9, 16), 2 * HOUR) == utc(2026, 1, 13, 10)


def test_english_bank_holidays_close_christmas_boxing_day_and_its_substitute_monday():
    calendar = BusinessCalendar("Europe/London", WEEKDAYS_9_TO_5, [], "GB", "ENG")
    # Thu 24 Dec 16:00, 1 h that day; Fri 25 (Christmas), Sat 26, Sun 27, Mon 28 (Boxing Day observed)
    assert calendar.add(london(2026, 12, 24, 16), 2 * HOUR) == utc(2026, 12, 29, 10)
    assert calendar.is_holiday(date(2026, 12, 28)) and not calendar.is_holiday(date(2026, 12, 29))
    assert calendar.seconds_between(london(2026, 12, 24, 9), london(2026, 12, 30, 9)) == 16 * HOUR


def test_country_holidays_are_computed_for_each_year_asked():
    calendar = BusinessCalendar("Europe/London", WEEKDAYS_9_TO_5, [], "GB", "ENG")
    assert calendar.is_holiday(date(2031, 12, 25)) and calendar.is_holiday(date(2026, 1, 1))
    assert not calendar.is_open(london(2031, 12, 25, 10))


# Daylight saving (Europe/London: forward on 29 March 2026, back on 25 October 2026)


def test_spring_forward_over_the_weekend_makes_monday_ten_an_hour_earlier_in_utc(office):
    # Fri 27 March 16:00 GMT is 16:00 UTC; Mon 30 March 10:00 BST is 09:00 UTC
    assert office.add(london(2026, 3, 27, 16), 2 * HOUR) == utc(2026, 3, 30, 9)
    assert office.seconds_between(utc(2026, 3, 27, 16), utc(2026, 3, 30, 9)) == 2 * HOUR


def test_fall_back_over_the_weekend_makes_monday_ten_an_hour_later_in_utc(office):
    # Fri 23 October 16:00 BST is 15:00 UTC; Mon 26 October 10:00 GMT is 10:00 UTC
    assert office.add(london(2026, 10, 23, 16), 2 * HOUR) == utc(2026, 10, 26, 10)


def test_hours_outside_the_change_keep_their_length_on_the_day_of_the_change():
    sundays = BusinessCalendar("Europe/London", {"sun": [["09:00", "17:00"]]})
    assert sundays.seconds_between(london(2026, 3, 29, 0), london(2026, 3, 30, 0)) == 8 * HOUR
    assert sundays.add(london(2026, 3, 29, 9), 8 * HOUR) == utc(2026, 3, 29, 16)  # 17:00 BST


def test_a_change_inside_the_hours_makes_the_day_shorter_or_longer():
    around_the_clock = BusinessCalendar("Europe/London", {"sun": [["00:00", "24:00"]]})
    spring = around_the_clock.seconds_between(london(2026, 3, 28), london(2026, 3, 30))
    autumn = around_the_clock.seconds_between(london(2026, 10, 24), london(2026, 10, 26))
    assert (spring, autumn) == (23 * HOUR, 25 * HOUR)


def test_hours_in_the_skipped_hour_count_only_the_time_the_clock_really_shows():
    # on 29 March the clock jumps from 01:00 GMT to 02:00 BST: 00:30-01:30 is open for 30 minutes,
    # 01:30-02:30 from the jump (01:00 UTC) to 02:30 BST (01:30 UTC)
    night = BusinessCalendar("Europe/London", {"sun": [["00:30", "01:30"]]})
    late_night = BusinessCalendar("Europe/London", {"sun": [["01:30", "02:30"]]})
    day = (london(2026, 3, 29, 0), london(2026, 3, 30, 0))
    assert night.seconds_between(*day) == 30 * 60
    assert late_night.seconds_between(*day) == 30 * 60
    assert late_night.add(day[0], 0) == utc(2026, 3, 29, 1)


# Hours


def test_several_intervals_a_day_skip_the_break():
    calendar = BusinessCalendar("UTC", {"mon": [["13:00", "17:00"], ["09:00", "12:00"]]})
    assert calendar.add(utc(2026, 1, 5, 11), 2 * HOUR) == utc(2026, 1, 5, 14)
    assert not calendar.is_open(utc(2026, 1, 5, 12, 30))


def test_24_00_ends_the_day_and_the_next_day_continues_at_midnight():
    calendar = BusinessCalendar("UTC", {"mon": [["20:00", "24:00"]], "tue": [["00:00", "02:00"]]})
    assert calendar.add(utc(2026, 1, 5, 23), 2 * HOUR) == utc(2026, 1, 6, 1)
    assert calendar.seconds_between(utc(2026, 1, 5), utc(2026, 1, 7)) == 6 * HOUR


def test_an_interval_opens_at_its_start_and_is_closed_at_its_end(office):
    assert office.is_open(london(2026, 1, 5, 9)) and not office.is_open(london(2026, 1, 5, 8, 59, 59))
    assert office.is_open(london(2026, 1, 5, 16, 59, 59)) and not office.is_open(london(2026, 1, 5, 17))
    assert not office.is_open(london(2026, 1, 10, 12))  # Saturday


def test_adding_nothing_is_the_start_when_open_and_the_next_opening_when_closed(office):
    assert office.add(london(2026, 1, 5, 10, 15), 0) == utc(2026, 1, 5, 10, 15)
    assert office.add(london(2026, 1, 5, 17), 0) == utc(2026, 1, 6, 9)
    assert office.next_opening(london(2026, 1, 10, 12)) == utc(2026, 1, 12, 9)


def test_counting_from_outside_hours_starts_at_the_next_opening(office):
    assert office.add(london(2026, 1, 10, 3), 30 * 60) == utc(2026, 1, 12, 9, 30)


def test_business_time_ending_at_closing_is_the_closing_instant(office):
    assert office.add(london(2026, 1, 5, 16), HOUR) == utc(2026, 1, 5, 17)


def test_seconds_between_counts_only_open_time_and_is_zero_backwards(office):
    assert office.seconds_between(london(2026, 1, 9, 16), london(2026, 1, 12, 10)) == 2 * HOUR
    assert office.seconds_between(london(2026, 1, 12, 10), london(2026, 1, 9, 16)) == 0
    assert office.seconds_between(london(2026, 1, 10, 1), london(2026, 1, 11, 23)) == 0


def test_results_are_in_utc_whatever_zone_the_start_is_in(office):
    result = office.add(datetime(2026, 1, 9, 11, tzinfo=ZoneInfo("America/New_York")), 2 * HOUR)
    assert result.tzinfo is UTC and result == utc(2026, 1, 12, 10)


def test_a_long_span_jumps_by_days():
    calendar = BusinessCalendar("UTC", WEEKDAYS_9_TO_5)
    began = time.perf_counter()
    # 2000 h = 250 days of 8 h = 50 weeks: from Mon 5 January 09:00 to Fri 18 December 17:00
    assert calendar.add(utc(2026, 1, 5, 9), 2000 * HOUR) == utc(2026, 12, 18, 17)
    assert calendar.seconds_between(utc(2026, 1, 1), utc(2036, 1, 1)) > 0
    assert time.perf_counter() - began < 2


def test_naive_datetimes_and_negative_durations_are_refused(office):
    with pytest.raises(ValueError, match="time zone"):
        office.add(datetime(2026, 1, 5, 9), 60)
    with pytest.raises(ValueError, match="negative"):
        office.add(utc(2026, 1, 5, 9), -1)


def test_a_calendar_never_open_refuses_to_add_instead_of_looping():
    closed = BusinessCalendar("UTC", {})
    with pytest.raises(CalendarNeverOpen):
        closed.add(utc(2026, 1, 5), 60)
    assert closed.seconds_between(utc(2026, 1, 1), utc(2027, 1, 1)) == 0
    assert not closed.is_open(utc(2026, 1, 5, 12))


def test_a_calendar_closed_for_ten_years_by_holidays_gives_up():
    monday_only = BusinessCalendar("UTC", {"mon": [["09:00", "17:00"]]})
    mondays = [utc(2026, 1, 5).date() + timedelta(weeks=n) for n in range(600)]
    closed = BusinessCalendar("UTC", {"mon": [["09:00", "17:00"]]}, holidays=mondays)
    assert monday_only.add(utc(2026, 1, 5), 0) == utc(2026, 1, 5, 9)
    with pytest.raises(CalendarNeverOpen):
        closed.add(utc(2026, 1, 5), 60)


def test_from_row_reads_a_stored_calendar():
    row = SimpleNamespace(
        timezone="Europe/London",
        hours=WEEKDAYS_9_TO_5,
        holidays=["2026-01-12"],
        holiday_country="GB",
        holiday_subdivision="ENG",
    )
    calendar = BusinessCalendar.from_row(row)
    assert calendar.add(london(2026, 1, 9, 16), 2 * HOUR) == utc(2026, 1, 13, 10)
    assert calendar.is_holiday(date(2026, 12, 25))


# Parsing


@pytest.mark.parametrize(("text", "seconds"), [("00:00", 0), ("09:30", 34200), ("24:00", 86400)])
def test_clock_times_parse_to_seconds_after_midnight(text, seconds):
    assert parse_clock(text) == seconds


@pytest.mark.parametrize(
    "text", ["9:00", "24:01", "25:00", "12:60", "noon", "", "12:00:00", "09:00\n", "0\u0669:00"]
)
def test_malformed_clock_times_are_refused(text):
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock(text)


@pytest.mark.parametrize(
    ("hours", "problem"),
    [
        ({"mon": [["17:00", "09:00"]]}, "start before"),
        ({"mon": [["09:00", "09:00"]]}, "start before"),
        ({"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}, "overlap"),
        ({"monday": [["09:00", "17:00"]]}, "unknown weekday"),
        ({"mon": [["09:00"]]}, "pair"),
    ],
)
def test_malformed_weekly_hours_are_refused(hours, problem):
    with pytest.raises(ValueError, match=problem):
        parse_hours(hours)


def test_touching_intervals_are_allowed():
    assert parse_hours({"tue": [["12:00", "17:00"], ["09:00", "12:00"]]})[1] == (
        (32400, 43200),
        (43200, 61200),
    )


# Properties


BUSY = BusinessCalendar(
    "Europe/London",
    {
        **{day: [["08:30", "12:00"], ["13:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [["10:00", "14:00"]],
        "sun": [["00:30", "02:30"]],  # crosses the spring-forward gap once a year
    },
    holidays=["2026-06-15", "2027-02-01"],
    holiday_country="GB",
    holiday_subdivision="ENG",
)
STARTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
DURATIONS = st.floats(min_value=0, max_value=60 * 86400, allow_nan=False, allow_infinity=False)


@settings(deadline=None)
@given(start=STARTS, seconds=DURATIONS)
def test_seconds_between_undoes_add(start, seconds):
    assert BUSY.seconds_between(start, BUSY.add(start, seconds)) == pytest.approx(seconds, abs=1e-6)


@settings(deadline=None)
@given(start=STARTS, seconds=DURATIONS, more=DURATIONS)
def test_add_is_monotonic_in_the_duration(start, seconds, more):
    assert BUSY.add(start, seconds) <= BUSY.add(start, seconds + more)


@settings(deadline=None)
@given(
    start=STARTS, later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)), seconds=DURATIONS
)
def test_add_is_monotonic_in_the_start(start, later, seconds):
    assert BUSY.add(start, seconds) <= BUSY.add(start + later, seconds)


@settings(deadline=None)
@given(start=STARTS, seconds=DURATIONS)
def test_the_result_of_adding_time_is_open_or_a_closing_instant(start, seconds):
    end = BUSY.add(start, seconds)
    assert BUSY.is_open(end) or BUSY.is_open(end - timedelta(microseconds=1))


@given(start=STARTS, seconds=DURATIONS)
def test_always_open_is_plain_addition(start, seconds):
    calendar = BusinessCalendar.always()
    assert calendar.add(start, seconds) == start + timedelta(seconds=seconds)
    assert calendar.seconds_between(start, start + timedelta(seconds=seconds)) == pytest.approx(
        seconds, abs=1e-6
    )
    assert calendar.is_open(start)


@settings(deadline=None)
@given(start=STARTS, seconds=st.floats(min_value=0, max_value=10 * 86400, allow_nan=False))
def test_a_calendar_open_every_hour_of_every_day_is_plain_addition_too(start, seconds):
    calendar = BusinessCalendar(
        "UTC", {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    assert calendar.add(start, seconds) == start + timedelta(seconds=seconds)
