"""The ticket workflow: examples of each rule, and properties over any sequence of actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contact_center.tickets.workflow import (
    MAX_TIER,
    Action,
    ActionKind,
    IllegalTransition,
    Rules,
    TicketSnapshot,
    TicketState,
    apply,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NEW = TicketSnapshot(TicketState.NEW)


def act(kind: ActionKind, minutes: float = 0, reason: str = "because", cause: str | None = None) -> Action:
    return Action(kind, START + timedelta(minutes=minutes), actor_id=7, reason=reason, cause=cause)


def run(*actions: Action, ticket: TicketSnapshot = NEW) -> TicketSnapshot:
    for action in actions:
        ticket = apply(ticket, action).ticket
    return ticket


def test_a_ticket_is_worked_waits_and_is_resolved_and_closed():
    ticket = run(act(ActionKind.START), act(ActionKind.WAIT, 5, "asked for the serial number"))
    assert ticket.state is TicketState.PENDING and ticket.pending_since == START + timedelta(minutes=5)
    moved = apply(ticket, act(ActionKind.CUSTOMER_REPLIED, 60, reason=""))
    assert moved.ticket.state is TicketState.OPEN and moved.ticket.pending_since is None
    assert (moved.event.from_state, moved.event.to_state, moved.event.actor_id) == ("pending", "open", 7)
    resolved = run(act(ActionKind.RESOLVE, 90, "replaced under warranty"), ticket=moved.ticket)
    assert resolved.state is TicketState.RESOLVED and resolved.resolved_at == START + timedelta(minutes=90)
    assert run(act(ActionKind.CLOSE, 200), ticket=resolved).state is TicketState.CLOSED


@pytest.mark.parametrize(
    ("state", "kind", "message"),
    [
        (TicketState.CLOSED, ActionKind.REOPEN, "a closed ticket cannot be reopened"),
        (TicketState.NEW, ActionKind.CLOSE, "a new ticket cannot be closed"),
        (TicketState.OPEN, ActionKind.RESUME, "an open ticket cannot resume"),
        (TicketState.RESOLVED, ActionKind.WAIT, "a resolved ticket cannot wait"),
    ],
)
def test_illegal_transitions_are_refused_with_a_reason(state, kind, message):
    with pytest.raises(IllegalTransition) as refused:
        apply(TicketSnapshot(state), act(kind))
    assert str(refused.value) == message


def test_reasons_are_required_where_a_person_must_say_why():
    for kind in (ActionKind.WAIT, ActionKind.ESCALATE, ActionKind.RESOLVE):
        with pytest.raises(IllegalTransition, match="give a reason"):
            apply(TicketSnapshot(TicketState.OPEN), act(kind, reason="  "))


def test_a_customer_reply_reopens_a_resolved_ticket_only_within_the_window():
    resolved = run(act(ActionKind.START), act(ActionKind.RESOLVE, 1, "done"))
    rules = Rules(reopen_window=timedelta(days=3))
    reopened = apply(resolved, act(ActionKind.CUSTOMER_REPLIED, 60 * 24 * 2, ""), rules)
    assert reopened.ticket.state is TicketState.REOPENED and reopened.ticket.resolved_at is None
    with pytest.raises(IllegalTransition, match="new ticket"):
        apply(resolved, act(ActionKind.CUSTOMER_REPLIED, 60 * 24 * 4, ""), rules)


def test_escalation_climbs_tier_by_tier_once_per_cause():
    first = run(act(ActionKind.START), act(ActionKind.ESCALATE, 1, "late", "sla:first_response"))
    assert (first.state, first.tier) == (TicketState.ESCALATED, 2)
    with pytest.raises(IllegalTransition, match="already escalated"):
        apply(first, act(ActionKind.ESCALATE, 2, "late again", "sla:first_response"))
    top = run(act(ActionKind.ESCALATE, 3, "resolution late", "sla:resolution"), ticket=first)
    assert top.tier == MAX_TIER
    with pytest.raises(IllegalTransition, match="highest tier"):
        apply(top, act(ActionKind.ESCALATE, 4, "angry", "manual"))
    waiting = run(act(ActionKind.WAIT, 5, "asked the supplier"), act(ActionKind.RESUME, 6, ""), ticket=top)
    assert waiting.state is TicketState.ESCALATED  # back from a wait at its tier
    recovery = Action(ActionKind.ESCALATE, START, 9, "scored 1/5", "survey:low", to_tier=MAX_TIER)
    assert apply(top, recovery).ticket.tier == MAX_TIER  # re-routed within the top tier, once for that cause
    with pytest.raises(IllegalTransition, match="down"):
        apply(top, Action(ActionKind.ESCALATE, START, 9, "oops", "other", to_tier=1))


actions = st.builds(
    Action,
    kind=st.sampled_from(list(ActionKind)),
    at=st.just(START),
    actor_id=st.one_of(st.none(), st.integers(1, 5)),
    reason=st.sampled_from(["", "why not", "customer asked"]),
    cause=st.sampled_from([None, "manual", "sla:resolution", "csat:low"]),
    to_tier=st.sampled_from([None, 1, 2, 3, 4]),
)


@given(st.lists(st.tuples(actions, st.integers(0, 60 * 24 * 10)), max_size=40))
def test_no_sequence_of_actions_reaches_an_undefined_state_and_each_change_leaves_one_event(steps):
    ticket, history, now = NEW, [], START
    for action, minutes_later in steps:
        now += timedelta(minutes=minutes_later)
        action = Action(action.kind, now, action.actor_id, action.reason, action.cause)
        try:
            moved = apply(ticket, action)
        except IllegalTransition as refused:
            assert str(refused)  # always a reason
            continue
        assert moved.event.from_state is ticket.state and moved.event.to_state is moved.ticket.state
        assert moved.event.action is action.kind and moved.event.at == now
        history.append(moved.event)
        ticket = moved.ticket
        assert ticket.state in set(TicketState)
        assert 1 <= ticket.tier <= MAX_TIER and len(ticket.escalation_causes) >= ticket.tier - 1
        assert (ticket.pending_since is not None) == (ticket.state is TicketState.PENDING)
        assert (ticket.resolved_at is not None) == (
            ticket.state in (TicketState.RESOLVED, TicketState.CLOSED)
        )
    assert [e.from_state for e in history[1:]] == [e.to_state for e in history[:-1]]
    if history and history[-1].to_state is TicketState.CLOSED:
        for kind in ActionKind:  # closed is final
            with pytest.raises(IllegalTransition):
                apply(ticket, Action(kind, now, reason="x", cause="late"))
