"""Normalising identities before they are stored or looked up, so one person has one key per identifier."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import phonenumbers

from contact_center.errors import InvalidInput

MAX_IDENTITY_LENGTH = 320
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9._:@\-]+$")


class IdentityKind(StrEnum):
    """The kinds of identifier a customer can have."""

    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    CRM = "crm"


@dataclass(frozen=True)
class Identity:
    """A normalised identifier with the text it was written as."""

    kind: IdentityKind
    value: str
    display_value: str


@lru_cache(maxsize=4096)  # pure, and one contact's identity is normalised at each step of its intake
def normalise(kind: str, raw: str, default_region: str = "US") -> Identity:
    """Normalise `raw` as an identity of `kind`; raise InvalidInput with the reason when it is not one."""
    try:
        identity_kind = IdentityKind(kind)
    except ValueError:
        raise InvalidInput(
            f"unknown identity kind {kind!r}; use one of {', '.join(k.value for k in IdentityKind)}"
        ) from None
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(f"empty {identity_kind.value} identity")
    if len(text) > MAX_IDENTITY_LENGTH:
        raise InvalidInput(f"{identity_kind.value} identity longer than {MAX_IDENTITY_LENGTH} characters")
    if identity_kind is IdentityKind.PHONE:
        return Identity(identity_kind, normalise_phone(text, default_region), text)
    if identity_kind is IdentityKind.EMAIL:
        return Identity(identity_kind, normalise_email(text), text)
    if not _TOKEN.match(text):
        raise InvalidInput(f"{identity_kind.value} id may hold only letters, digits and . _ : @ -")
    return Identity(identity_kind, text, text)


def normalise_phone(raw: str, default_region: str = "US") -> str:
    """A phone number in E.164 form (+14155550100); accepts tel: URIs and national formats."""
    text = raw.strip()
    if text.lower().startswith("tel:"):
        text = text[4:].split(";", 1)[0]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{raw!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """An email address case-folded (mailto: and a display name around <...> are removed)."""
    text = raw.strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if "<" in text and text.endswith(">"):
        text = text[text.rindex("<") + 1 : -1]
    text = text.strip().casefold()
    if not _EMAIL.match(text):
        raise InvalidInput(f"{raw!r} is not an email address")
    return text


def guess_kind(raw: str) -> IdentityKind | None:
    """The likely kind of a free-text identifier typed into a search box, or None."""
    text = raw.strip()
    if "@" in text and _EMAIL.match(text.casefold().removeprefix("mailto:")):
        return IdentityKind.EMAIL
    if text.lower().startswith("tel:") or re.fullmatch(r"[+()\d\s.\-]{7,}", text):
        return IdentityKind.PHONE
    return None
