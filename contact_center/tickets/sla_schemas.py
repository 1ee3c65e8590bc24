"""What the SLA admin API takes: business-hours calendars and SLA policies, validated."""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contact_center.tickets.calendar import parse_hours

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Priority = Literal["low", "normal", "high", "urgent"]  # the ticket priorities
BreachAction = Literal["escalate", "notify"]
Clock = Annotated[str, Field(max_length=5, description="HH:MM")]
MAX_MINUTES = 525_600  # a year
MAX_HOLIDAYS = 1000
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def _countries() -> dict[str, list[str]]:
    return holidays.list_supported_countries()


class CalendarIn(BaseModel):
    """A business-hours calendar: weekly wall-clock hours in a time zone, and its holidays."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=64)
    timezone: str = Field(default="UTC", max_length=64, description="An IANA zone, e.g. Europe/London.")
    hours: dict[Weekday, list[tuple[Clock, Clock]]] = Field(
        description='Open intervals by weekday, e.g. {"mon": [["09:00", "17:00"]]}; "24:00" ends a day; '
        "days left out are closed."
    )
    holidays: list[str] = Field(
        default_factory=list, max_length=MAX_HOLIDAYS, description="Closed dates (YYYY-MM-DD)."
    )
    holiday_country: str | None = Field(
        default=None, max_length=8, description="Also closed on this country's public holidays (e.g. GB)."
    )
    holiday_subdivision: str | None = Field(
        default=None, max_length=16, description="The country's region whose holidays apply (e.g. ENG)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if name not in _zones():
            raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/London)")
        return name

    @field_validator("hours")
    @classmethod
    def _open_sometimes(cls, hours: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
        if any(len(intervals) > 12 for intervals in hours.values()):
            raise ValueError("at most 12 intervals a day")
        week = parse_hours(hours)
        if not any(week):
            raise ValueError("the calendar must be open at some time in the week")
        return {day: sorted(intervals) for day, intervals in hours.items() if intervals}

    @field_validator("holidays")
    @classmethod
    def _dates(cls, days: list[str]) -> list[str]:
        parsed = set()
        for day in days:
            try:
                if not _ISO_DATE.fullmatch(day):
                    raise ValueError(day)
                parsed.add(date.fromisoformat(day))
            except ValueError:
                raise ValueError(f"{day[:20]!r} is not a date as YYYY-MM-DD") from None
        return [day.isoformat() for day in sorted(parsed)]

    @field_validator("holiday_country")
    @classmethod
    def _supported_country(cls, code: str | None) -> str | None:
        if code is None:
            return None
        code = code.upper()
        if code not in _countries():
            raise ValueError(f"no public holidays known for country {code!r} (use an ISO code such as GB)")
        return code

    def columns(self) -> dict[str, Any]:
        """The stored columns (hours as JSON lists)."""
        return {
            **self.model_dump(exclude={"hours"}),
            "hours": {day: [list(pair) for pair in intervals] for day, intervals in self.hours.items()},
        }

    @model_validator(mode="after")
    def _subdivision_of_country(self) -> CalendarIn:
        subdivision = self.holiday_subdivision
        if subdivision is None:
            return self
        if self.holiday_country is None:
            raise ValueError("holiday_subdivision needs holiday_country")
        known = {name.casefold(): name for name in _countries()[self.holiday_country]}
        if subdivision.casefold() not in known:
            hint = ", ".join(sorted(known.values())[:20]) or "none"
            raise ValueError(f"{self.holiday_country} has no subdivision {subdivision!r} (known: {hint})")
        self.holiday_subdivision = known[subdivision.casefold()]
        return self


class SlaPolicyIn(BaseModel):
    """An SLA policy: which tickets it covers (None matches any) and its targets in business minutes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=120)
    position: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Lower is tried first. Default: after the last."
    )
    category: str | None = Field(default=None, min_length=1, max_length=32, description="A ticket category.")
    priority: Priority | None = None
    customer_tier: str | None = Field(default=None, min_length=1, max_length=16)
    first_response_minutes: int | None = Field(default=None, gt=0, le=MAX_MINUTES)
    next_response_minutes: int | None = Field(default=None, gt=0, le=MAX_MINUTES)
    resolution_minutes: int | None = Field(default=None, gt=0, le=MAX_MINUTES)
    warn_before_minutes: int = Field(default=30, ge=0, le=MAX_MINUTES)
    calendar_id: int | None = Field(
        default=None, ge=1, lt=2**63, description="Business hours to count in. Default: around the clock."
    )
    breach_action: BreachAction = "escalate"
    active: bool = True

    @model_validator(mode="after")
    def _some_target(self) -> SlaPolicyIn:
        targets = (self.first_response_minutes, self.next_response_minutes, self.resolution_minutes)
        if all(target is None for target in targets):
            raise ValueError(
                "set at least one of first_response_minutes, next_response_minutes, resolution_minutes"
            )
        return self

    def fields(self) -> dict[str, Any]:
        """The stored columns (position resolved by the caller)."""
        return self.model_dump(exclude={"position"})
