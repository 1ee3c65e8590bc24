"""The unified customer record: customer, identities, notes, history, search keys and merges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contact_center.db.base import Base, JSONType, UTCDateTime


class Customer(Base):
    """One person or business, whatever channel they use."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(16))
    organisation: Mapped[str | None] = mapped_column(String(200))
    lifecycle_stage: Mapped[str] = mapped_column(String(32), default="customer")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    value_score: Mapped[float] = mapped_column(Float, default=0.0)
    value_tier: Mapped[str] = mapped_column(String(32), default="bronze")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    identities: Mapped[list[CustomerIdentity]] = relationship(
        back_populates="customer", lazy="raise", order_by="CustomerIdentity.id"
    )
    notes: Mapped[list[CustomerNote]] = relationship(
        back_populates="customer", lazy="raise", order_by="CustomerNote.id.desc()"
    )

    __table_args__ = (Index("ix_customers_value_tier", "value_tier"),)


class CustomerIdentity(Base):
    """A normalised identifier (phone, email, chat visitor, CRM id); each belongs to one customer."""

    __tablename__ = "customer_identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    display_value: Mapped[str] = mapped_column(String(320))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="identities", lazy="raise")

    __table_args__ = (UniqueConstraint("kind", "value", name="uq_customer_identities_kind_value"),)


class CustomerNote(Base):
    """A note an agent wrote about the customer."""

    __tablename__ = "customer_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="notes", lazy="raise")


class CustomerEvent(Base):
    """The audit of a customer record: who changed what, when."""

    __tablename__ = "customer_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_customer_events_customer_created", "customer_id", "created_at"),)


class CustomerSearchKey(Base):
    """Blocking keys of a customer's name (each token and its one-deletion variants) for fuzzy lookup."""

    __tablename__ = "customer_search_keys"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True, index=True)


class CustomerMerge(Base):
    """A merge of `merged_id` into `survivor_id`, with what moved, so it can be undone."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
