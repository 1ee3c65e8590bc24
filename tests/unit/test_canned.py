"""Canned replies without a database: placeholders found, checked and filled."""

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from contact_center.console.canned import (
    PLACEHOLDERS,
    CannedReplyIn,
    placeholder_values,
    placeholders_in,
    render,
)


def test_placeholders_are_found_with_or_without_spaces():
    assert placeholders_in("Hi {{customer.first_name}}, I am {{ agent.name }}.") == [
        "customer.first_name",
        "agent.name",
    ]


def test_render_fills_known_values_and_leaves_no_raw_placeholder():
    text = render(
        "Hi {{customer.first_name}} {{customer.last_name}}, {{agent.first_name}} here ({{conversation.id}}).",
        {"customer.first_name": "Ana", "customer.last_name": None, "agent.first_name": "Bob"},
    )
    assert text == "Hi Ana , Bob here ()."
    assert "{{" not in render("{{nonsense}}{{ customer.name }}", {})


def test_render_does_not_touch_braces_that_are_not_placeholders():
    assert render("{x} {{ }} {{a}", {}) == "{x}  {{a}"


def test_values_come_from_customer_agent_and_conversation():
    customer = SimpleNamespace(given_name="Ana", family_name="García", display_name="Ana García")
    agent = SimpleNamespace(display_name="Bob Agent")
    conversation = SimpleNamespace(id=42, subject="Machine shows E4")
    values = placeholder_values(customer, agent, conversation)
    assert values == {
        "customer.first_name": "Ana",
        "customer.last_name": "García",
        "customer.name": "Ana García",
        "agent.first_name": "Bob",
        "agent.name": "Bob Agent",
        "conversation.id": "42",
        "conversation.subject": "Machine shows E4",
    }
    assert set(values) == set(PLACEHOLDERS)


def test_missing_values_are_empty_strings():
    customer = SimpleNamespace(given_name=None, family_name=None, display_name="")
    values = placeholder_values(customer, None, None)
    assert set(values.values()) == {""}


def test_customer_name_falls_back_to_given_and_family_name():
    customer = SimpleNamespace(given_name="Ana", family_name="García", display_name="")
    assert placeholder_values(customer, None, None)["customer.name"] == "Ana García"


@pytest.mark.parametrize("shortcut", ["refund", "/refund", "  /Refund ", "a", "x_y-z9"])
def test_shortcuts_are_stored_with_one_leading_slash(shortcut):
    reply = CannedReplyIn(shortcut=shortcut, title="t", body="b")
    assert reply.shortcut.startswith("/") and not reply.shortcut.startswith("//")


@pytest.mark.parametrize("shortcut", ["", "/", "//refund", "re fund", "r" * 32, "réfund", "a/b"])
def test_bad_shortcuts_are_refused(shortcut):
    with pytest.raises(ValidationError):
        CannedReplyIn(shortcut=shortcut, title="t", body="b")


def test_unknown_placeholder_is_refused_naming_the_known_ones():
    with pytest.raises(ValidationError) as raised:
        CannedReplyIn(shortcut="x", title="t", body="Hi {{customer.shoe_size}}")
    message = str(raised.value)
    assert "customer.shoe_size" in message
    assert all(p in message for p in PLACEHOLDERS)
