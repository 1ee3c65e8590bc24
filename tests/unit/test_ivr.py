"""The IVR definition: validation with errors that say where, business hours, holidays and choices."""

from datetime import UTC, datetime

import pytest

from channels.ivr import Ivr, IvrError, load_ivr


def ivr_with(**changes) -> Ivr:
    data = load_ivr(None).model_dump()
    data.update(changes)
    return Ivr.model_validate(data)


def test_the_bundled_ivr_is_valid_and_always_open():
    ivr = load_ivr(None)
    assert [language.code for language in ivr.languages] == ["en", "es"]
    assert ivr.is_open(datetime(2026, 12, 25, 3, 0, tzinfo=UTC))


def test_hours_are_local_to_the_time_zone_and_holidays_close_the_day():
    ivr = ivr_with(timezone="America/New_York", hours={"mon": ["09:00-17:00"]}, holidays=["2026-12-28"])
    monday_9_30_new_york = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    assert ivr.is_open(monday_9_30_new_york)
    assert not ivr.is_open(datetime(2026, 11, 23, 13, 30, tzinfo=UTC))  # 08:30 there
    assert not ivr.is_open(datetime(2026, 11, 23, 22, 0, tzinfo=UTC))  # 17:00 there: closed at the end
    assert not ivr.is_open(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))  # a Tuesday: no hours
    assert not ivr.is_open(datetime(2026, 12, 28, 15, 0, tzinfo=UTC))  # a Monday, but a holiday


def test_choices_by_key_and_by_words_in_the_callers_language():
    ivr = load_ivr(None)
    assert ivr.choose("main", "9", "", "en").complaint
    assert ivr.choose("main", "", "I have a complaint about my bill", "en").digit == "1"  # first match wins
    assert ivr.choose("main", "", "quiero poner una queja", "es").complaint
    assert ivr.choose("main", "", "queja", "en") is None  # Spanish words are not English ones
    assert ivr.choose("main", "5", "", "en") is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("languages: []\nmenus: {}\n", "languages"),
        ("{{{", "not valid YAML"),
        ("languages: [{code: en, digit: '1', prompts: {welcome: hi}}]\nmenus: {}\n", "missing prompts"),
    ],
)
def test_a_broken_file_names_the_problem(tmp_path, text, where):
    path = tmp_path / "ivr.yaml"
    path.write_text(text)
    with pytest.raises(IvrError, match=where):
        load_ivr(path)


def test_options_must_lead_somewhere_known():
    data = load_ivr(None).model_dump()
    data["menus"]["main"]["options"][0] = {"digit": "1", "menu": "nowhere"}
    with pytest.raises(ValueError, match="unknown menu 'nowhere'"):
        Ivr.model_validate(data)
    data["menus"]["main"]["options"][0] = {"digit": "1", "queue": "billing", "menu": "main"}
    with pytest.raises(ValueError, match="exactly one"):
        Ivr.model_validate(data)
