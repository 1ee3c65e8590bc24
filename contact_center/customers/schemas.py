"""Validated input for customer records (shared by the API and the importers)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

LIFECYCLE_STAGES = ("lead", "prospect", "customer", "vip", "churned", "inactive")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IdentityIn(_Strict):
    """An identifier as written: kind phone, email, chat or crm."""

    kind: str = Field(max_length=16, examples=["phone"])
    value: str = Field(min_length=1, max_length=320, examples=["+1 415 555 0100"])
    verified: bool = False


class CustomerIn(_Strict):
    """A new customer."""

    display_name: str = Field(default="", max_length=200)
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=16, pattern=r"^[a-zA-Z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    organisation: str | None = Field(default=None, max_length=200)
    lifecycle_stage: str = Field(default="customer")
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=100)
    identities: list[IdentityIn] = Field(default_factory=list, max_length=50)

    @field_validator("lifecycle_stage")
    @classmethod
    def _stage(cls, value: str) -> str:
        if value not in LIFECYCLE_STAGES:
            raise ValueError(f"must be one of {', '.join(LIFECYCLE_STAGES)}")
        return value


class CustomerPatch(_Strict):
    """Changes to a customer; fields left out stay as they are."""

    display_name: str | None = Field(default=None, max_length=200)
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=16, pattern=r"^[a-zA-Z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    organisation: str | None = Field(default=None, max_length=200)
    lifecycle_stage: str | None = None
    attributes: dict[str, Any] | None = Field(default=None, max_length=100)

    @field_validator("lifecycle_stage")
    @classmethod
    def _stage(cls, value: str | None) -> str | None:
        if value is not None and value not in LIFECYCLE_STAGES:
            raise ValueError(f"must be one of {', '.join(LIFECYCLE_STAGES)}")
        return value


class NoteIn(_Strict):
    """A note about a customer."""

    body: str = Field(min_length=1, max_length=10_000)


class OrderItemIn(_Strict):
    """One line of an order."""

    sku: str = Field(min_length=1, max_length=64)
    product_name: str = Field(min_length=1, max_length=200)
    quantity: int = Field(default=1, ge=1, le=100_000)
    unit_price: Decimal = Field(ge=0, le=Decimal("10000000"), decimal_places=2)
    serial_number: str | None = Field(default=None, max_length=100)
    warranty_ends_on: date | None = None


class OrderIn(_Strict):
    """A new order; the total defaults to the sum of its items."""

    order_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-/#]+$")
    ordered_at: datetime
    status: str = Field(default="completed", max_length=32)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    total: Decimal | None = Field(default=None, ge=0, le=Decimal("1000000000"), decimal_places=2)
    items: list[OrderItemIn] = Field(default_factory=list, max_length=500)

    @field_validator("ordered_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a time zone (e.g. 2026-01-31T10:00:00Z)")
        return value


class MergeIn(_Strict):
    """Merge `merged_id` into `survivor_id`."""

    survivor_id: int = Field(ge=1)
    merged_id: int = Field(ge=1)
    force: bool = Field(default=False, description="Merge even when the two have different CRM ids.")


class ResolveIn(_Strict):
    """What a channel knows about a contact, to find the customer."""

    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)
    name: str | None = Field(default=None, max_length=200)
    organisation: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=5, ge=1, le=50)
