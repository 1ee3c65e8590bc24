"""Identity normalisation: one key per identifier whatever way it is written."""

import pytest

from contact_center.customers.identity import IdentityKind, guess_kind, normalise
from contact_center.customers.names import search_keys, tokens
from contact_center.errors import InvalidInput


@pytest.mark.parametrize("raw", ["+1 (415) 555-0100", "415-555-0100", "tel:+14155550100", "(415) 555 0100"])
def test_us_phone_numbers_normalise_to_the_same_e164(raw):
    assert normalise("phone", raw, "US").value == "+14155550100"


def test_national_number_uses_the_configured_region():
    assert normalise("phone", "020 7946 0958", "GB").value == "+442079460958"


def test_email_is_case_folded_and_unwrapped():
    assert normalise("email", "Alice@Example.COM").value == "alice@example.com"
    assert normalise("email", "Alice <Alice@Example.com>").value == "alice@example.com"
    assert normalise("email", "mailto:BOB@example.org").value == "bob@example.org"


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("phone", "not a number"),
        ("phone", "12"),
        ("email", "alice@"),
        ("email", "a b@example.com"),
        ("fax", "123"),
        ("chat", "bad id with spaces"),
        ("crm", ""),
        ("email", "x" * 400 + "@example.com"),
    ],
)
def test_malformed_identities_are_refused_with_a_reason(kind, raw):
    with pytest.raises(InvalidInput) as caught:
        normalise(kind, raw)
    assert caught.value.message


def test_guess_kind_of_search_text():
    assert guess_kind("Alice@Example.com") is IdentityKind.EMAIL
    assert guess_kind("+1 415 555 0100") is IdentityKind.PHONE
    assert guess_kind("Alice Smith") is None


def test_name_tokens_fold_accents_and_case():
    assert tokens("José  GARCÍA-López") == ["jose", "garcia", "lopez"]


def test_one_edit_apart_names_share_a_search_key():
    for right, wrong in [("johnson", "jonhson"), ("smith", "smyth"), ("garcia", "garcja"), ("kate", "katie")]:
        assert search_keys(right) & search_keys(wrong), (right, wrong)


def test_a_number_standing_in_for_a_name_gets_no_search_keys():
    # A customer who texted without a name is shown by their phone number: numbers one digit apart are no
    # duplicates, and the screen-pop does not look for any.
    assert search_keys("+1 212-200-0001") == set()
    assert search_keys("Order 1234") and search_keys("3M Company")
