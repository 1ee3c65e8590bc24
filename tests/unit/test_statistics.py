"""Interval statistics against hand-computed figures: service level with short and late abandons, a wait that
crosses midnight, and the two daylight-saving changes of Europe/London (23- and 25-hour days)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from contact_center.reports.counters import CounterKey, counters_of, merge
from contact_center.reports.figures import Figures
from contact_center.reports.intervals import Grain, bucket_of, interval_start, local_day

LONDON = ZoneInfo("Europe/London")
TARGET = 20.0


def at(text: str) -> float:
    """A UTC time written 'YYYY-MM-DD HH:MM:SS' as a POSIX time."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def event(kind: str, when: str, *, agent: str | None = None, queue: str | None = None, **data) -> list:
    return counters_of(
        kind,
        at(when),
        queue or data.get("to_queue", "sales"),
        agent,
        {"channel": "voice", **data},
        target_seconds=lambda q: TARGET,
        zone=LONDON,
    )


def totals(changes: list) -> Figures:
    """The queue rows' sum (agent rows repeat the agents' part of them)."""
    figures = Figures()
    for key, increments in changes:
        if key.agent_id == 0:
            figures.add(Figures.of(increments))
    return figures


def test_service_level_counts_late_abandons_and_fallbacks_against_the_queue_but_not_short_abandons():
    changes = [
        *event("task.accepted", "2026-01-14 10:00:10", agent="7", wait=10.0),  # in target
        *event("task.accepted", "2026-01-14 10:01:00", agent="7", wait=20.0),  # exactly the target: in
        *event("task.accepted", "2026-01-14 10:02:00", agent="8", wait=30.0),  # late
        *event("task.abandoned", "2026-01-14 10:03:00", wait=5.0),  # short abandon: neither for nor against
        *event("task.abandoned", "2026-01-14 10:04:00", wait=20.0),  # at the target: still short
        *event("task.abandoned", "2026-01-14 10:05:00", wait=45.0),  # late abandon: against
        *event("task.fell_back", "2026-01-14 10:12:00", wait=600.0),  # sent to voicemail: against
        *event("task.wrapped", "2026-01-14 10:06:00", agent="7", handle=200.0),
        *event("task.wrapped", "2026-01-14 10:07:00", agent="8", handle=100.0),
        *event("task.transferred", "2026-01-14 10:08:00", agent="8", from_queue="sales", to_queue="billing"),
        *event("task.offered", "2026-01-14 10:09:00", agent="8"),  # changes no figure
    ]
    figures = totals(changes)
    assert (figures.offered, figures.answered, figures.answered_in_target) == (7, 3, 2)
    assert (figures.abandoned, figures.abandoned_in_target, figures.abandoned_after_target) == (3, 2, 1)
    assert figures.fell_back == 1 and figures.transfers == 1 and figures.handled == 2
    # 2 answered in target / (3 answered + 1 late abandon + 1 fallback)
    assert figures.service_level == pytest.approx(2 / 5)
    assert figures.average_speed_of_answer == pytest.approx((10 + 20 + 30) / 3)
    assert figures.average_handle_time == pytest.approx(150.0)
    assert figures.abandon_rate == pytest.approx(3 / 7)
    assert figures.average_patience == pytest.approx((5 + 20 + 45) / 3)
    # a fallback after a 600 s wait arrived at 10:02:00, in the 10:00 interval like the rest
    assert {k.interval_start for k, _ in changes if not k.agent_id} == {datetime(2026, 1, 14, 10, tzinfo=UTC)}
    # the agents' work also goes to their day rows (all queues and channels): abandons and fallbacks do not
    rows = merge(changes)
    agent_rows = {key.agent_id: increments for key, increments in rows.items() if key.agent_id}
    assert sorted(agent_rows) == [7, 8]
    assert {key.interval_start for key in rows if key.agent_id} == {datetime(2026, 1, 14, tzinfo=UTC)}
    assert agent_rows[7] == {
        "offered": 2,
        "answered": 2,
        "answered_in_target": 2,
        "wait_answered_seconds": 30.0,
        "handled": 1,
        "handle_seconds": 200.0,
    }
    assert agent_rows[8]["transfers"] == 1 and agent_rows[8]["answered"] == 1
    # the transfer event names the queue it went to; it counts in the queue it left
    assert {key.queue for key in rows if not key.agent_id} == {"sales"}


def test_only_short_abandons_leave_no_service_level_and_an_empty_interval_has_no_ratios():
    figures = totals(event("task.abandoned", "2026-01-14 10:03:00", wait=3.0))
    assert figures.offered == 1 and figures.service_level is None
    empty = Figures()
    assert (
        empty.service_level is None and empty.average_speed_of_answer is None and empty.abandon_rate is None
    )


def test_a_wait_that_crosses_midnight_stays_on_the_day_it_began_and_its_handle_time_on_the_next():
    # Winter: London is on UTC. Arrives 23:59:50 on the 14th, answered 00:00:20 on the 15th, wrapped 00:05.
    answered = event("task.accepted", "2026-01-15 00:00:20", agent="7", wait=30.0)
    wrapped = event("task.wrapped", "2026-01-15 00:05:00", agent="7", handle=280.0)
    [(answer_key, increments), (agent_key, _)] = answered
    assert answer_key.interval_start == datetime(2026, 1, 14, 23, 45, tzinfo=UTC)
    assert answer_key.local_day == agent_key.local_day == date(2026, 1, 14)
    assert increments == {"offered": 1, "answered": 1, "answered_in_target": 0, "wait_answered_seconds": 30.0}
    [(wrap_key, _), _] = wrapped
    assert wrap_key.interval_start == datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
    assert wrap_key.local_day == date(2026, 1, 15)


def test_local_days_of_the_spring_change_have_23_hours_and_the_autumn_change_25():
    # 29 March 2026: 01:00 UTC, clocks go from 01:00 GMT to 02:00 BST.
    spring = [interval_start(at("2026-03-29 00:00:00") + 900 * i) for i in range(23 * 4)]
    assert {local_day(start, LONDON) for start in spring} == {date(2026, 3, 29)}
    assert local_day(interval_start(at("2026-03-28 23:45:00")), LONDON) == date(2026, 3, 28)
    assert local_day(interval_start(at("2026-03-29 23:00:00")), LONDON) == date(2026, 3, 30)
    # 25 October 2026: 01:00 UTC, clocks go from 02:00 BST back to 01:00 GMT. The day starts 24 Oct 23:00 UTC.
    autumn = [interval_start(at("2026-10-24 23:00:00") + 900 * i) for i in range(25 * 4)]
    assert {local_day(start, LONDON) for start in autumn} == {date(2026, 10, 25)}
    assert local_day(interval_start(at("2026-10-24 22:45:00")), LONDON) == date(2026, 10, 24)
    assert local_day(interval_start(at("2026-10-26 00:00:00")), LONDON) == date(2026, 10, 26)


def test_hour_rows_keep_the_two_one_oclock_hours_of_the_autumn_change_apart():
    first = interval_start(at("2026-10-25 00:30:00"))  # 01:30 BST
    second = interval_start(at("2026-10-25 01:30:00"))  # 01:30 GMT, an hour later
    day = date(2026, 10, 25)
    first_hour, second_hour = (bucket_of(Grain.HOUR, day, LONDON, s) for s in (first, second))
    assert first_hour.isoformat() == "2026-10-25T01:00:00+01:00"
    assert second_hour.isoformat() == "2026-10-25T01:00:00+00:00"
    assert second_hour.timestamp() - first_hour.timestamp() == 3600
    assert bucket_of(Grain.DAY, day, LONDON).isoformat() == "2026-10-25T00:00:00+01:00"
    assert bucket_of(Grain.WEEK, day, LONDON).date() == date(2026, 10, 19)  # the Monday


def test_events_without_a_queue_or_with_a_foreign_agent_id_are_counted_safely():
    assert (
        counters_of(
            "task.accepted",
            at("2026-01-14 10:00:00"),
            None,
            "7",
            {"wait": 1},
            target_seconds=lambda q: 20,
            zone=LONDON,
        )
        == []
    )
    [(key, _)] = counters_of(
        "task.accepted",
        at("2026-01-14 10:00:00"),
        "sales",
        "bot-1",
        {"wait": 0},
        target_seconds=lambda q: 20,
        zone=LONDON,
    )
    assert key == CounterKey(datetime(2026, 1, 14, 10, tzinfo=UTC), "sales", "unknown", 0, date(2026, 1, 14))
