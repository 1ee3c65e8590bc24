"""What each routing event adds to the interval counters, as a pure function.

Attribution, as most ACDs report it:
- a contact counts as offered, and then answered, abandoned or fallen back, in the interval it **arrived in**
  the queue (the time of the outcome minus its wait), once its outcome is known: in every interval
  offered = answered + abandoned + fell_back, and a wait that crosses midnight stays on the day it began;
- handle time (answer to end of wrap-up) counts in the interval where the work ended;
- a transfer counts for the agent who made it, in the queue it left, in the interval it happened;
- "in target": the wait was at most the queue's service-level target at the time of the event.

Each change goes to a queue row (15 minutes, queue, channel, agent 0: every agent together). A change made by
an agent (answered, handled, transferred, rated) also goes to that agent's row, which is kept per local day
and not per queue or channel (queue and channel are `AGENT_ROW`): a year of agent figures stays a few hundred
rows per agent, where 15 minutes x queue x channel x agent would be nearly a row per contact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from contact_center.reports.intervals import day_start, interval_start, local_day

ALL_AGENTS = 0
AGENT_ROW = "*"


@dataclass(frozen=True)
class CounterKey:
    """Which row of `interval_stats` a change goes to."""

    interval_start: datetime
    queue: str
    channel: str
    agent_id: int
    local_day: date


Increments = dict[str, float]


def counters_of(
    kind: str,
    at: float,
    queue: str | None,
    agent_id: str | None,
    data: dict[str, Any],
    *,
    target_seconds: Callable[[str], float],
    zone: ZoneInfo,
) -> list[tuple[CounterKey, Increments]]:
    """The counter changes one routing event makes (none for events that change no figure)."""
    if not queue or kind not in _RULES:
        return []
    if kind == "task.transferred":
        queue = data.get("from_queue") or queue  # a transfer counts where it was made
    channel = str(data.get("channel") or "unknown")
    happened_at, increments = _RULES[kind](at, data, target_seconds(queue))
    agent = int(agent_id) if agent_id and str(agent_id).isdigit() and kind in AGENT_KINDS else None
    return rows_for(interval_start(happened_at), queue, channel, agent, increments, zone)


def rows_for(
    start: datetime, queue: str, channel: str, agent: int | None, increments: Increments, zone: ZoneInfo
) -> list[tuple[CounterKey, Increments]]:
    """The queue row of an interval, and the agent's day row when an agent made the change."""
    day = local_day(start, zone)
    rows = [(CounterKey(start, queue, channel, ALL_AGENTS, day), increments)]
    if agent:
        rows.append((CounterKey(day_start(day, zone), AGENT_ROW, AGENT_ROW, agent, day), increments))
    return rows


def merge(changes: Iterable[tuple[CounterKey, Increments]]) -> dict[CounterKey, Increments]:
    """Changes of one batch added up per row, so each row is written once."""
    rows: dict[CounterKey, Increments] = {}
    for key, increments in changes:
        row = rows.setdefault(key, {})
        for name, value in increments.items():
            row[name] = row.get(name, 0) + value
    return rows


def _wait(data: dict[str, Any]) -> float:
    return max(0.0, float(data.get("wait") or 0.0))


def _answered(at: float, data: dict[str, Any], target: float) -> tuple[float, Increments]:
    wait = _wait(data)
    return at - wait, {
        "offered": 1,
        "answered": 1,
        "answered_in_target": int(wait <= target),
        "wait_answered_seconds": wait,
    }


def _abandoned(at: float, data: dict[str, Any], target: float) -> tuple[float, Increments]:
    wait = _wait(data)
    return at - wait, {
        "offered": 1,
        "abandoned": 1,
        "abandoned_in_target": int(wait <= target),
        "wait_abandoned_seconds": wait,
    }


def _fell_back(at: float, data: dict[str, Any], target: float) -> tuple[float, Increments]:
    return at - _wait(data), {"offered": 1, "fell_back": 1}


def _wrapped(at: float, data: dict[str, Any], target: float) -> tuple[float, Increments]:
    return at, {"handled": 1, "handle_seconds": max(0.0, float(data.get("handle") or 0.0))}


def _transferred(at: float, data: dict[str, Any], target: float) -> tuple[float, Increments]:
    return at, {"transfers": 1}


AGENT_KINDS = frozenset({"task.accepted", "task.wrapped", "task.transferred"})
_RULES: dict[str, Callable[[float, dict[str, Any], float], tuple[float, Increments]]] = {
    "task.accepted": _answered,
    "task.abandoned": _abandoned,
    "task.fell_back": _fell_back,
    "task.wrapped": _wrapped,
    "task.transferred": _transferred,
}
