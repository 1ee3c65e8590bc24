"""The IVR as data: languages, prompts, menus mapped to queues and skills, business hours and holidays.

An operator describes the IVR in a YAML (or JSON) file named by `CC_IVR_FILE`; without one the bundled
`ivr_default.yaml` is used. The file is validated when the application starts, and every error names its
place in the file. See docs/twilio.md for the format.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
PROMPTS = (
    "welcome",
    "welcome_known",
    "choose_language",
    "closed",
    "not_understood",
    "position",
    "wait",
    "wait_short",
    "wait_options",
    "callback_confirmed",
    "voicemail",
    "voicemail_thanks",
    "connecting",
    "recording_notice",
    "apology",
)


class IvrError(ValueError):
    """The IVR definition is invalid; the message says where."""


class Language(BaseModel):
    """A language callers may choose, its key and its voice."""

    code: str = Field(pattern=r"^[a-z]{2,3}$")
    digit: str = Field(pattern=r"^[0-9]$")
    say_language: str = "en-US"
    voice: str = "Polly.Joanna"
    prompts: dict[str, str]

    @field_validator("prompts")
    @classmethod
    def _all_prompts(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [name for name in PROMPTS if not value.get(name)]
        if missing:
            raise ValueError(f"missing prompts: {', '.join(missing)}")
        return value


class Option(BaseModel):
    """One menu choice: a key, words a caller may say, and where it leads (a queue or another menu)."""

    digit: str = Field(pattern=r"^[0-9*#]$")
    words: dict[str, list[str]] = Field(default_factory=dict)
    queue: str | None = None
    menu: str | None = None
    skills: dict[str, int] = Field(default_factory=dict)
    complaint: bool = False
    priority: int = Field(default=0, ge=0, le=10)

    @model_validator(mode="after")
    def _one_target(self) -> Option:
        if (self.queue is None) == (self.menu is None):
            raise ValueError("an option needs exactly one of `queue` or `menu`")
        return self


class Menu(BaseModel):
    """A prompt per language and its options."""

    prompt: dict[str, str]
    options: list[Option] = Field(min_length=1)


class Ivr(BaseModel):
    """The whole IVR."""

    languages: list[Language] = Field(min_length=1)
    timezone: str = "UTC"
    hours: dict[str, list[str]] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)
    start_menu: str = "main"
    menus: dict[str, Menu]
    max_attempts: int = Field(default=3, ge=1, le=10)
    default_queue: str = "general"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _spans(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(WEEKDAYS)}")
            for span in spans:
                if not SPAN.match(span):
                    raise ValueError(f"{day}: {span!r} is not HH:MM-HH:MM")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Ivr:
        codes = [language.code for language in self.languages]
        if self.start_menu not in self.menus:
            raise ValueError(f"start_menu {self.start_menu!r} is not among the menus")
        for name, menu in self.menus.items():
            for code in codes:
                if not menu.prompt.get(code):
                    raise ValueError(f"menu {name!r} has no prompt in {code!r}")
            for option in menu.options:
                if option.menu is not None and option.menu not in self.menus:
                    raise ValueError(
                        f"menu {name!r}: option {option.digit} leads to unknown menu {option.menu!r}"
                    )
        return self

    def language(self, code: str | None) -> Language:
        """The language with this code, else the first (the default)."""
        return next((language for language in self.languages if language.code == code), self.languages[0])

    def language_by_digit(self, digit: str) -> Language | None:
        """The language a caller chose by key."""
        return next((language for language in self.languages if language.digit == digit), None)

    def is_open(self, moment: datetime) -> bool:
        """Whether the contact centre is open at this moment (no hours given: always open)."""
        if not self.hours:
            return True
        local = moment.astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        for span in self.hours.get(WEEKDAYS[local.weekday()], []):
            match = SPAN.match(span)
            assert match is not None  # validated on load
            h1, m1, h2, m2 = (int(part) for part in match.groups())
            if time(h1, m1) <= local.time() < time(h2, m2):
                return True
        return False

    def choose(self, menu_name: str, digits: str, speech: str, language: str) -> Option | None:
        """The option a caller picked by key or by saying one of its words."""
        menu = self.menus[menu_name]
        if digits:
            return next((option for option in menu.options if option.digit == digits.strip()[:1]), None)
        said = speech.lower()
        for option in menu.options:
            for word in option.words.get(language, []):
                if re.search(rf"\b{re.escape(word.lower())}\b", said):
                    return option
        return None


def load_ivr(path: Path | None) -> Ivr:
    """Read and validate the IVR file (or the bundled default)."""
    if path is None:
        text, name = (resources.files("channels") / "ivr_default.yaml").read_text("utf-8"), "ivr_default.yaml"
    else:
        try:
            text, name = path.read_text("utf-8"), str(path)
        except OSError as exc:
            raise IvrError(f"cannot read the IVR file {path}: {exc.strerror}") from None
    try:
        data: Any = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
        return Ivr.model_validate(data)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise IvrError(f"{name} is not valid YAML/JSON: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'top level'}: {error['msg']}"
            for error in exc.errors()
        )
        raise IvrError(f"{name}: {problems}") from None
