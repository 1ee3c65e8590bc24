"""Choosing a ticket's SLA policy: the first active match by (position, id), None fields matching anything;
and a policy's targets in seconds."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from contact_center.tickets.sla_policy import SlaTargets, choose_policy, targets_of


@dataclass
class Policy:
    id: int
    position: int = 0
    active: bool = True
    category: str | None = None
    priority: str | None = None
    customer_tier: str | None = None
    first_response_minutes: int | None = 60
    next_response_minutes: int | None = None
    resolution_minutes: int | None = None
    warn_before_minutes: int = 30
    breach_action: str = "escalate"
    calendar_id: int | None = None


def choose(policies, category="complaint", priority="normal", customer_tier=None):
    chosen = choose_policy(policies, category=category, priority=priority, customer_tier=customer_tier)
    return None if chosen is None else chosen.id


def test_the_lowest_position_wins_and_ids_break_ties():
    policies = [Policy(id=3, position=5), Policy(id=2, position=1), Policy(id=1, position=1)]
    assert choose(policies) == 1


def test_order_in_the_list_does_not_matter():
    assert choose([Policy(id=2, position=0), Policy(id=1, position=9)]) == 2


def test_a_none_field_matches_anything_and_a_set_one_must_be_equal():
    policies = [
        Policy(id=1, position=0, category="repair"),
        Policy(id=2, position=1, priority="urgent"),
        Policy(id=3, position=2, customer_tier="gold"),
        Policy(id=4, position=3),
    ]
    assert choose(policies, category="repair") == 1
    assert choose(policies, priority="urgent") == 2
    assert choose(policies, customer_tier="gold") == 3
    assert choose(policies, customer_tier="silver") == 4
    assert choose(policies) == 4


def test_every_set_field_must_match():
    specific = Policy(id=1, category="complaint", priority="urgent", customer_tier="platinum")
    assert choose([specific], priority="urgent", customer_tier="platinum") == 1
    assert choose([specific], priority="urgent", customer_tier="gold") is None
    assert choose([specific], priority="high", customer_tier="platinum") is None
    assert choose([specific], category="inquiry", priority="urgent", customer_tier="platinum") is None


def test_a_tier_policy_does_not_match_a_ticket_without_a_tier():
    assert choose([Policy(id=1, customer_tier="gold")], customer_tier=None) is None


def test_inactive_policies_are_skipped():
    policies = [Policy(id=1, position=0, active=False), Policy(id=2, position=1)]
    assert choose(policies) == 2
    assert choose([Policy(id=1, active=False)]) is None


def test_no_policies_means_none():
    assert choose([]) is None


def test_targets_are_in_seconds_and_none_when_unset():
    policy = Policy(
        id=7,
        first_response_minutes=15,
        resolution_minutes=480,
        warn_before_minutes=10,
        breach_action="notify",
        calendar_id=3,
    )
    assert targets_of(policy) == SlaTargets(
        policy_id=7,
        first_response=900.0,
        next_response=None,
        resolution=28_800.0,
        warn_before=600.0,
        breach_action="notify",
        calendar_id=3,
    )


def test_targets_are_frozen():
    targets = targets_of(Policy(id=1))
    with pytest.raises(AttributeError):
        targets.resolution = 1.0  # type: ignore[misc]
