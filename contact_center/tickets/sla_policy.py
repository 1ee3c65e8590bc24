"""Which SLA policy applies to a ticket, and its targets in seconds. Pure: works on any objects shaped like
the stored SlaPolicy rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar


class PolicyLike(Protocol):
    """What matching and targets read from a policy (the SlaPolicy row has it all)."""

    id: int
    position: int
    active: bool
    category: str | None
    priority: str | None
    customer_tier: str | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    warn_before_minutes: int
    breach_action: str
    calendar_id: int | None


P = TypeVar("P", bound=PolicyLike)


@dataclass(frozen=True)
class SlaTargets:
    """A policy's targets in business seconds (None: no such target), and what a breach does."""

    policy_id: int
    first_response: float | None
    next_response: float | None
    resolution: float | None
    warn_before: float
    breach_action: str
    calendar_id: int | None


def matches(policy: PolicyLike, *, category: str, priority: str, customer_tier: str | None) -> bool:
    """True if each field the policy sets equals the ticket's (a None field matches anything)."""
    return (
        (policy.category is None or policy.category == category)
        and (policy.priority is None or policy.priority == priority)
        and (policy.customer_tier is None or policy.customer_tier == customer_tier)
    )


def choose_policy(
    policies: Iterable[P], *, category: str, priority: str, customer_tier: str | None
) -> P | None:
    """The first active matching policy by (position, id), or None."""
    candidates = sorted((p for p in policies if p.active), key=lambda p: (p.position, p.id))
    for policy in candidates:
        if matches(policy, category=category, priority=priority, customer_tier=customer_tier):
            return policy
    return None


def targets_of(policy: PolicyLike) -> SlaTargets:
    """The policy's targets converted from minutes to seconds."""
    return SlaTargets(
        policy_id=policy.id,
        first_response=_seconds(policy.first_response_minutes),
        next_response=_seconds(policy.next_response_minutes),
        resolution=_seconds(policy.resolution_minutes),
        warn_before=float(policy.warn_before_minutes * 60),
        breach_action=policy.breach_action,
        calendar_id=policy.calendar_id,
    )


def _seconds(minutes: int | None) -> float | None:
    return None if minutes is None else float(minutes * 60)
