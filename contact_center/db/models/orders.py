"""What a customer bought: orders, their items, serials and warranties."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contact_center.db.base import Base, UTCDateTime


class Order(Base):
    """An order; money is kept in minor units (cents) to stay exact."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_number: Mapped[str] = mapped_column(String(64), unique=True)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(32), default="completed")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    total_cents: Mapped[int] = mapped_column(BigInteger)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", lazy="raise", cascade="all, delete-orphan", order_by="OrderItem.id"
    )

    __table_args__ = (Index("ix_orders_customer_ordered", "customer_id", "ordered_at"),)


class OrderItem(Base):
    """One line of an order: a product, perhaps with a serial number and a warranty end date."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    product_name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    serial_number: Mapped[str | None] = mapped_column(String(100), index=True)
    warranty_ends_on: Mapped[date | None] = mapped_column(Date)

    order: Mapped[Order] = relationship(back_populates="items", lazy="raise")
