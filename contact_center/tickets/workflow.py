"""The ticket workflow as an explicit state machine: which action may move a ticket from which state to which.

Pure: no database, no clock of its own. `apply(ticket, action)` returns the new state and the one history
event the change leaves, or raises IllegalTransition with the reason; the service layer stores both in one
transaction. States:

- new: nobody has worked it yet;          - open: being worked;
- pending: waiting on the customer or a third party (SLA clocks pause);
- escalated: handed to a higher tier;     - resolved: answered, the customer may still come back;
- closed: final (a customer who writes again gets a new ticket);
- reopened: the customer replied within the reopen window of a resolved ticket, or an agent reopened it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from contact_center.errors import Conflict


class TicketState(StrEnum):
    """Where a ticket is in its life."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


class ActionKind(StrEnum):
    """What can happen to a ticket."""

    START = "start"  # an agent starts working on it
    WAIT = "wait"  # waiting on the customer or a third party
    RESUME = "resume"  # the wait is over (the agent goes on)
    CUSTOMER_REPLIED = "customer_replied"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    REOPEN = "reopen"  # an agent reopens a resolved ticket
    CLOSE = "close"  # by an agent, or automatically some days after resolution


WORKING = frozenset({TicketState.NEW, TicketState.OPEN, TicketState.ESCALATED, TicketState.REOPENED})
LIVE = WORKING | {TicketState.PENDING}
MAX_TIER = 3
# action -> the states it applies to; the target is computed by `apply` (some depend on the ticket)
ALLOWED: dict[ActionKind, frozenset[TicketState]] = {
    ActionKind.START: frozenset({TicketState.NEW, TicketState.REOPENED}),
    ActionKind.WAIT: WORKING,
    ActionKind.RESUME: frozenset({TicketState.PENDING}),
    ActionKind.CUSTOMER_REPLIED: frozenset(LIVE | {TicketState.RESOLVED}),
    ActionKind.ESCALATE: LIVE,
    ActionKind.RESOLVE: LIVE,
    ActionKind.REOPEN: frozenset({TicketState.RESOLVED}),
    ActionKind.CLOSE: frozenset({TicketState.RESOLVED}),
}
NEEDS_REASON = frozenset({ActionKind.WAIT, ActionKind.ESCALATE, ActionKind.RESOLVE, ActionKind.REOPEN})


class IllegalTransition(Conflict):
    """The action does not apply to the ticket as it is; the message says why (409 over HTTP)."""


@dataclass(frozen=True)
class Action:
    """One thing done to a ticket: by whom (a user id, or None for the system or the customer), why, when.

    `cause` names what triggered an escalation ("sla:first_response:1", "manual", "survey:low"...): a ticket
    escalates at most once for each cause. `to_tier` sends it to a given tier (by default the next one); the
    ticket's own tier is allowed only when given, to re-route it within its tier (a supervisor's recovery).
    """

    kind: ActionKind
    at: datetime
    actor_id: int | None = None
    reason: str = ""
    cause: str | None = None
    to_tier: int | None = None


@dataclass(frozen=True)
class TicketSnapshot:
    """What the workflow needs to know about a ticket."""

    state: TicketState
    tier: int = 1
    resolved_at: datetime | None = None
    escalation_causes: frozenset[str] = field(default_factory=frozenset)
    pending_since: datetime | None = None


@dataclass(frozen=True)
class HistoryEvent:
    """One line of a ticket's history: who moved it from where to where, why and when."""

    action: ActionKind
    from_state: TicketState
    to_state: TicketState
    at: datetime
    actor_id: int | None
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    """The ticket after the action, and the history event it leaves."""

    ticket: TicketSnapshot
    event: HistoryEvent


@dataclass(frozen=True)
class Rules:
    """Settings of the workflow."""

    reopen_window: timedelta = timedelta(days=7)
    max_tier: int = MAX_TIER


def apply(ticket: TicketSnapshot, action: Action, rules: Rules | None = None) -> Transition:
    """The ticket after `action`, or IllegalTransition saying why it cannot happen."""
    rules = rules or Rules()
    if ticket.state not in ALLOWED[action.kind]:
        article = "an" if ticket.state.value[0] in "aeiou" else "a"
        raise IllegalTransition(f"{article} {ticket.state.value} ticket cannot {_verb(action.kind)}")
    if action.kind in NEEDS_REASON and not action.reason.strip():
        raise IllegalTransition(f"to {_verb(action.kind)} a ticket, give a reason")
    target, changes, data = _target(ticket, action, rules)
    after = _replace(ticket, target, action, changes)
    event = HistoryEvent(action.kind, ticket.state, target, action.at, action.actor_id, action.reason, data)
    return Transition(after, event)


def _target(
    ticket: TicketSnapshot, action: Action, rules: Rules
) -> tuple[TicketState, dict[str, Any], dict[str, Any]]:
    kind, state = action.kind, ticket.state
    if kind is ActionKind.START:
        return TicketState.OPEN, {}, {}
    if kind is ActionKind.WAIT:
        return TicketState.PENDING, {}, {}
    if kind is ActionKind.RESUME:
        return _working_state(ticket), {}, {}
    if kind is ActionKind.CUSTOMER_REPLIED:
        if state is TicketState.RESOLVED:
            if ticket.resolved_at is not None and action.at - ticket.resolved_at > rules.reopen_window:
                raise IllegalTransition(
                    "resolved too long ago to reopen: the customer's message opens a new ticket"
                )
            return TicketState.REOPENED, {}, {}
        return (_working_state(ticket) if state is TicketState.PENDING else state), {}, {}
    if kind is ActionKind.ESCALATE:
        cause = action.cause or "manual"
        if cause in ticket.escalation_causes:
            raise IllegalTransition(f"already escalated for {cause!r}")
        tier = action.to_tier if action.to_tier is not None else ticket.tier + 1
        if tier > rules.max_tier:
            raise IllegalTransition(f"already at the highest tier (L{rules.max_tier})")
        if tier < ticket.tier:
            raise IllegalTransition(f"a ticket at L{ticket.tier} cannot be escalated down to L{tier}")
        changes = {"tier": tier, "escalation_causes": ticket.escalation_causes | {cause}}
        return TicketState.ESCALATED, changes, {"tier": tier, "cause": cause}
    if kind is ActionKind.RESOLVE:
        return TicketState.RESOLVED, {"resolved_at": action.at}, {}
    if kind is ActionKind.REOPEN:
        return TicketState.REOPENED, {}, {}
    return TicketState.CLOSED, {}, {}  # CLOSE


def _working_state(ticket: TicketSnapshot) -> TicketState:
    """Back from a wait: escalated tickets stay escalated, others are open."""
    return TicketState.ESCALATED if ticket.tier > 1 else TicketState.OPEN


def _replace(
    ticket: TicketSnapshot, target: TicketState, action: Action, changes: dict[str, Any]
) -> TicketSnapshot:
    pending_since = action.at if target is TicketState.PENDING else None
    if target is TicketState.PENDING and ticket.state is TicketState.PENDING:
        pending_since = ticket.pending_since
    fields = {
        "state": target,
        "tier": ticket.tier,
        "resolved_at": ticket.resolved_at if target in (TicketState.RESOLVED, TicketState.CLOSED) else None,
        "escalation_causes": ticket.escalation_causes,
        "pending_since": pending_since,
        **changes,
    }
    return TicketSnapshot(**fields)


def _verb(kind: ActionKind) -> str:
    return {
        ActionKind.START: "be started",
        ActionKind.WAIT: "wait",
        ActionKind.RESUME: "resume",
        ActionKind.CUSTOMER_REPLIED: "take a customer's reply",
        ActionKind.ESCALATE: "be escalated",
        ActionKind.RESOLVE: "be resolved",
        ActionKind.REOPEN: "be reopened",
        ActionKind.CLOSE: "be closed",
    }[kind]
