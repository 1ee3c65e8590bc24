"""The rules of matching, as pure functions every store applies the same way.

- Waiting order: a task's score is its creation time minus `priority * aging_seconds`, lowest first. Equal
  priorities are first come, first served; a priority level is worth `aging_seconds` of waiting, so a low
  priority task still reaches the front once it has waited long enough (no starvation).
- Eligibility: the agent serves one of the task's targets (queue, skill levels, language), has not declined
  the task, and is the preferred agent while the preferred window lasts (if that agent is available).
- Capacity: per channel; an exclusive channel (voice) needs an otherwise free agent and blocks all others.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any

from routing.model import Agent, EscalationStep, Presence, QueueConfig, Strategy, Target, Task

DEFAULT_AGING_SECONDS = 60.0
EXCLUSIVE_CHANNELS = frozenset({"voice"})
# Back-office work an agent puts down to take a call: it does not keep an exclusive channel's task away.
DEFERRABLE_CHANNELS = frozenset({"ticket"})


def score(task: Task, aging_seconds: float = DEFAULT_AGING_SECONDS) -> float:
    """The task's place in line: lower goes first."""
    return task.created_at - task.priority * aging_seconds


def priority_for(
    base: int = 0, *, vip: bool = False, complaint: bool = False, vip_boost: int = 2, complaint_boost: int = 1
) -> int:
    """A task's priority: VIP customers and complaints are raised."""
    return base + (vip_boost if vip else 0) + (complaint_boost if complaint else 0)


def has_room(agent: Agent, channel: str, exclusive: frozenset[str] = EXCLUSIVE_CHANNELS) -> bool:
    """True if the agent is available, has no open offer, and has free capacity on the channel."""
    if agent.presence is not Presence.AVAILABLE or agent.offer is not None:
        return False
    if channel in exclusive and any(held not in DEFERRABLE_CHANNELS for held in agent.tasks.values()):
        return False
    if any(held in exclusive for held in agent.tasks.values()):
        return False
    held = sum(1 for c in agent.tasks.values() if c == channel)
    return held < agent.profile.capacity.get(channel, 0)


def meets(agent: Agent, target: Target) -> bool:
    """True if the agent serves the target's queue with the skill levels and language it needs."""
    queues = agent.profile.queues
    if queues is not None and target.queue not in queues:
        return False
    skills = agent.profile.skills
    if any(skills.get(skill, 0) < level for skill, level in target.skills.items()):
        return False
    return target.language is None or target.language in agent.profile.languages


def eligible(
    agent: Agent, task: Task, now: float, preferred_window: float, preferred_available: bool
) -> bool:
    """True if the agent may be offered the task now (room on the channel is checked separately)."""
    if agent.id in task.declined_by:
        return False
    only = task.attributes.get("only_agent")
    if only is not None:
        return agent.id == only
    if (
        task.preferred_agent
        and preferred_available
        and now - task.queued_at < preferred_window
        and agent.id != task.preferred_agent
    ):
        return False
    return any(meets(agent, target) for target in task.targets)


def pick(
    candidates: Iterable[Agent],
    task: Task,
    strategy: Strategy,
    fits: Callable[[Agent], bool],
) -> Agent | None:
    """The agent the queue's strategy prefers among the candidates that `fits` accepts (ties: the longest
    idle, then id). Candidates are looked at in the strategy's order and the first that fits is the one, so
    `fits`, dearer than the order, runs for few of a large floor's agents."""
    key = preference(strategy, task)
    ordered = [(key(agent), agent) for agent in candidates]  # keys end with the unique id: never a tie
    heapq.heapify(ordered)
    while ordered:
        _, agent = heapq.heappop(ordered)
        if fits(agent):
            return agent
    return None


def preference(strategy: Strategy, task: Task) -> Callable[[Agent], tuple[Any, ...]]:
    """The sort key of the strategy's order of agents for this task: the smallest is preferred."""
    if strategy is Strategy.MOST_SKILLED:
        wanted = {skill for target in task.targets for skill in target.skills}
        return lambda a: (-sum(a.profile.skills.get(skill, 0) for skill in wanted), a.idle_since, a.id)
    if strategy is Strategy.LEAST_OCCUPIED:
        return lambda a: (occupancy(a), a.idle_since, a.id)
    if strategy is Strategy.ROUND_ROBIN:
        return lambda a: (a.last_offered_at, a.id)
    return lambda a: (a.idle_since, a.id)


def occupancy(agent: Agent) -> float:
    """Share of the agent's total capacity in use."""
    total = sum(agent.profile.capacity.values()) or 1
    return len(agent.tasks) / total


def escalated_targets(task: Task, step: EscalationStep, queues: dict[str, QueueConfig]) -> list[Target]:
    """The task's targets after one escalation step."""
    targets = []
    for target in task.targets:
        skills = {s: max(1, level - step.lower_levels_by) for s, level in target.skills.items()}
        targets.append(Target(target.queue, skills, None if step.drop_language else target.language))
    if step.add_queue and step.add_queue in queues and all(t.queue != step.add_queue for t in targets):
        targets.append(queues[step.add_queue].target())
    return targets


def next_deadline(task: Task, queue: QueueConfig) -> float | None:
    """When the task's next escalation step or its maximum wait falls due, if ever."""
    deadlines = []
    if task.escalation_step < len(queue.escalation):
        deadlines.append(task.queued_at + queue.escalation[task.escalation_step].after_seconds)
    if queue.max_wait_seconds is not None:
        deadlines.append(task.queued_at + queue.max_wait_seconds)
    return min(deadlines) if deadlines else None
