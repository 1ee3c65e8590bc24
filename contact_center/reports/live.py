"""The wallboard's numbers: what waits now, today's and the last 30 minutes' figures per queue and channel,
agents by state, and alerts. Read from the shared routing store and the database, so every process that
computes the board gets the same numbers.

- waiting and the longest wait: the routing store's waiting tasks (queued or ringing);
- today: the interval counters of today's local day;
- the last 30 minutes: the routing events of the last 30 minutes, counted by the same rules as the intervals;
- agents: the routing store's agents with their names; "ringing" when an offer is out, "busy" with contacts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import Conversation, IntervalStat, RoutingEventRecord, User
from contact_center.db.models.statistics import COUNTER_COLUMNS
from contact_center.reports.counters import ALL_AGENTS, counters_of
from contact_center.reports.figures import Figures
from routing.model import Agent, Presence, QueueConfig, Task

ROLLING = timedelta(minutes=30)
OUTCOMES = ("task.accepted", "task.abandoned", "task.fell_back", "task.wrapped", "task.transferred")
ALL_CHANNELS = "all"
AGENT_STATES = ("available", "ringing", "busy", "away", "offline")


@dataclass(frozen=True)
class BoardInputs:
    """What the board is computed from (read by the caller, so this module needs no app)."""

    now: datetime
    zone: ZoneInfo
    queues: list[QueueConfig]
    waiting: dict[str, list[Task]]
    agents: list[Agent]
    wait_alert_seconds: float


async def board(db: AsyncSession, inputs: BoardInputs) -> dict[str, Any]:
    """The whole board: queues (per channel and all channels), agents, state counts, alerts."""
    targets = {config.name: config for config in inputs.queues}
    today = await _today(db, inputs.now.astimezone(inputs.zone).date())
    recent = await _recent(db, inputs.now, targets)
    keys = set(today) | set(recent)
    for name, tasks in inputs.waiting.items():
        keys |= {(name, task.channel) for task in tasks}
    keys |= {(name, ALL_CHANNELS) for name in targets}
    keys |= {(name, ALL_CHANNELS) for name, _ in list(keys)}
    queues = {}
    for name, channel in sorted(keys):
        tasks = [t for t in inputs.waiting.get(name, []) if channel in (ALL_CHANNELS, t.channel)]
        queues[f"{name}/{channel}"] = _queue_row(
            name,
            channel,
            tasks,
            _sum(today, name, channel),
            _sum(recent, name, channel),
            targets.get(name),
            inputs,
        )
    agents = await _agents(db, inputs)
    states = Counter(agent["state"] for agent in agents.values())
    return {
        "at": inputs.now.isoformat(),
        "day": inputs.now.astimezone(inputs.zone).date().isoformat(),
        "queues": queues,
        "agents": agents,
        "summary": {
            "waiting": sum(len(tasks) for tasks in inputs.waiting.values()),
            "agents": {state: states.get(state, 0) for state in AGENT_STATES},
        },
        "alerts": [alert for row in queues.values() for alert in row["alerts"]],
    }


def _queue_row(
    name: str,
    channel: str,
    waiting: list[Task],
    today: Figures,
    recent: Figures,
    config: QueueConfig | None,
    inputs: BoardInputs,
) -> dict[str, Any]:
    now = inputs.now.timestamp()
    oldest = min((task.created_at for task in waiting), default=None)
    longest = round(now - oldest, 1) if oldest is not None else 0.0
    target_level = config.target_service_level if config else 0.8
    row = {
        "queue": name,
        "channel": channel,
        "waiting": len(waiting),
        "longest_wait_seconds": longest,
        "oldest_since": _iso(oldest) if oldest is not None else None,
        "target_service_level": target_level,
        "target_seconds": config.target_seconds if config else 20.0,
        "today": today.to_dict(),
        "last_30_minutes": recent.to_dict(),
        "alerts": [],
    }
    if channel != ALL_CHANNELS:
        return row
    for period, figures in (("today", today), ("the last 30 minutes", recent)):
        level = figures.service_level
        if level is not None and level < target_level:
            row["alerts"].append(
                {
                    "queue": name,
                    "kind": "service_level",
                    "text": f"{name}: service level {level:.0%} {period} (target {target_level:.0%})",
                }
            )
    if longest > inputs.wait_alert_seconds:
        row["alerts"].append(
            {
                "queue": name,
                "kind": "longest_wait",
                "text": f"{name}: a contact has waited {_duration(longest)}"
                f" (alert at {_duration(inputs.wait_alert_seconds)})",
            }
        )
    return row


def _sum(rows: dict[tuple[str, str], Figures], queue: str, channel: str) -> Figures:
    total = Figures()
    for (name, row_channel), figures in rows.items():
        if name == queue and channel in (ALL_CHANNELS, row_channel):
            total.add(figures)
    return total


async def _today(db: AsyncSession, day: Any) -> dict[tuple[str, str], Figures]:
    table = IntervalStat.__table__
    statement = (
        select(
            table.c.queue, table.c.channel, *(func.sum(table.c[name]).label(name) for name in COUNTER_COLUMNS)
        )
        .where(table.c.local_day == day, table.c.agent_id == ALL_AGENTS)
        .group_by(table.c.queue, table.c.channel)
    )
    return {
        (row["queue"], row["channel"]): Figures.of(row) for row in (await db.execute(statement)).mappings()
    }


async def _recent(
    db: AsyncSession, now: datetime, targets: dict[str, QueueConfig]
) -> dict[tuple[str, str], Figures]:
    events = RoutingEventRecord
    rows = await db.execute(
        select(events.kind, events.at, events.queue, events.agent_id, events.data).where(
            events.at >= now - ROLLING, events.kind.in_(OUTCOMES)
        )
    )
    figures: dict[tuple[str, str], Figures] = {}
    for kind, at, queue, agent_id, data in rows:
        changes = counters_of(
            kind,
            at.timestamp(),
            queue,
            str(agent_id) if agent_id else None,
            data or {},
            target_seconds=lambda q: targets[q].target_seconds if q in targets else 20.0,
            zone=ZoneInfo("UTC"),
        )
        for key, increments in changes:
            if key.agent_id != ALL_AGENTS:
                continue  # the agent's day row repeats the queue row
            figures.setdefault((key.queue, key.channel), Figures()).add(Figures.of(increments))
    return figures


async def _agents(db: AsyncSession, inputs: BoardInputs) -> dict[str, dict[str, Any]]:
    ids = [int(agent.id) for agent in inputs.agents if agent.id.isdigit()]
    names = {
        row.id: (row.display_name, row.team_id)
        for row in await db.execute(select(User.id, User.display_name, User.team_id).where(User.id.in_(ids)))
    }
    task_ids = [task_id for agent in inputs.agents for task_id in agent.tasks]
    conversations = {
        row.task_id: row.id
        for row in await db.execute(
            select(Conversation.id, Conversation.task_id).where(Conversation.task_id.in_(task_ids))
        )
    }
    agents = {}
    for agent in inputs.agents:
        if not agent.id.isdigit() or int(agent.id) not in names:
            continue
        name, team_id = names[int(agent.id)]
        agents[agent.id] = {
            "id": int(agent.id),
            "name": name,
            "team_id": team_id,
            "state": _state(agent),
            "presence": agent.presence.value,
            "reason": agent.away_reason,
            "since": _iso(agent.presence_since) if agent.presence_since else None,
            "contacts": len(agent.tasks),
            "channels": sorted(set(agent.tasks.values())),
            "work": [
                {"task_id": task_id, "channel": channel, "conversation_id": conversations.get(task_id)}
                for task_id, channel in sorted(agent.tasks.items())
            ],
        }
    return agents


def _state(agent: Agent) -> str:
    if agent.presence is Presence.OFFLINE:
        return "offline"
    if agent.offer:
        return "ringing"
    if agent.tasks:
        return "busy"
    return "away" if agent.presence is Presence.AWAY else "available"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def delta(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any] | None:
    """What changed from one board to the next (whole rows), or None when nothing did."""
    if before is None:
        return {"full": True, **after}
    change: dict[str, Any] = {"at": after["at"]}
    for section in ("queues", "agents"):
        old, new = before[section], after[section]
        changed = {key: row for key, row in new.items() if old.get(key) != row}
        removed = [key for key in old if key not in new]
        if changed:
            change[section] = changed
        if removed:
            change[f"removed_{section}"] = removed
    for section in ("summary", "alerts", "day"):
        if before[section] != after[section]:
            change[section] = after[section]
    return change if len(change) > 1 else None
