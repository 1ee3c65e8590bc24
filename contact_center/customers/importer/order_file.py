"""Importing orders, one row per item: consecutive rows of one order number form an order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.customers import records, value
from contact_center.customers.context import CustomerContext
from contact_center.customers.identity import Identity, normalise
from contact_center.customers.importer.files import (
    ImportReport,
    Progress,
    RejectedRow,
    RowImporter,
    Sessions,
    join_and,
    reason_of,
    refuse_extra_cells,
    run_file,
)
from contact_center.customers.orders import create_order
from contact_center.customers.schemas import OrderIn, OrderItemIn
from contact_center.db.models import Order
from contact_center.errors import DomainError, InvalidInput

ORDER_FIELDS = ("status", "currency", "total")
ITEM_FIELDS = ("sku", "product_name", "quantity", "unit_price", "serial_number", "warranty_ends_on")
ORDER_REQUIRED = ("order_number", "customer", "ordered_at", "sku", "product_name", "unit_price")


async def import_orders(
    sessions: Sessions,
    ctx: CustomerContext,
    path: Path,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    actor_id: int | None = None,
) -> ImportReport:
    """Create orders from a CSV file of order items; consecutive rows of one order number form an order."""
    return await run_file(sessions, path, _Orders(ctx, actor_id), skip_invalid, progress)


@dataclass
class _Group:
    """The consecutive rows of one order read so far."""

    number: str
    lines: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)
    head: OrderIn | None = None
    customer: tuple[str, str] = ("", "")
    customer_id: int = 0
    items: list[OrderItemIn] = field(default_factory=list)


class _Orders(RowImporter):
    columns = ("order_number", "customer", "ordered_at", *ORDER_FIELDS, *ITEM_FIELDS)
    required = ORDER_REQUIRED

    def __init__(self, ctx: CustomerContext, actor_id: int | None) -> None:
        super().__init__(ctx, actor_id)
        self.group = _Group("")
        self.first_line: dict[str, int] = {}
        self.customers: set[int] = set()

    async def row(self, db: AsyncSession, line: int, values: dict[str, str]) -> None:
        number = values.get("order_number", "")
        if self.group.number != number or not self.group.lines:
            await self._store(db)
            self.group = _Group(number)
        self.group.lines.append(line)
        try:
            await self._add(db, self.group, values)
        except (DomainError, ValidationError):
            self.group.bad.append(line)  # the whole order is left out, so it is never half-imported
            raise

    async def _add(self, db: AsyncSession, group: _Group, values: dict[str, str]) -> None:
        first = self.first_line.setdefault(group.number, group.lines[0])
        if group.number and first != group.lines[0]:
            raise InvalidInput(
                f"order {group.number} already appeared on line {first}; "
                "the rows of one order must be consecutive"
            )
        refuse_extra_cells(values)
        missing = [column for column in ORDER_REQUIRED if column not in values]
        if missing:
            raise InvalidInput(f"{join_and(missing)} must not be empty")
        head = OrderIn(
            order_number=group.number,
            ordered_at=_moment(values["ordered_at"]),
            **{name: values[name] for name in ORDER_FIELDS if name in values},
        )
        item = OrderItemIn(**{name: values[name] for name in ITEM_FIELDS if name in values})
        customer = _customer_key(values["customer"], self.ctx.default_region)
        if group.head is None:
            found = await records.find_identity(db, customer)
            if found is None:
                raise InvalidInput(f"customer {values['customer']!r} is not known")
            group.head, group.customer_id = head, found.customer_id
            group.customer = (customer.kind, customer.value)
        else:
            differ = ["customer"] if (customer.kind, customer.value) != group.customer else []
            differ += [
                name
                for name in ("ordered_at", "currency", "status", "total")
                if getattr(head, name) != getattr(group.head, name)
                and (name in head.model_fields_set or name in ("ordered_at", "currency"))
            ]
            if differ:
                raise InvalidInput(f"{join_and(differ)} differ from line {group.lines[0]} of the same order")
        group.items.append(item)

    async def finish(self, db: AsyncSession) -> None:
        """Store the last order, then recompute the value of every customer who got orders, once each."""
        await self._store(db)
        await value.recompute(db, self.ctx, sorted(self.customers))

    async def _store(self, db: AsyncSession) -> None:
        """Store the order read last, unless one of its rows was rejected or the order is already stored."""
        group, self.group = self.group, _Group("")
        if not group.lines:
            return
        if group.bad:
            for line in sorted(set(group.lines) - set(group.bad)):
                self.report.rejected.append(
                    RejectedRow(
                        line, f"order {group.number} not imported because of line {join_and(group.bad)}"
                    )
                )
            return
        if await db.scalar(select(Order.id).where(Order.order_number == group.number)) is not None:
            self.report.unchanged += 1
            return
        try:
            assert group.head is not None  # set by the order's first row, which was accepted
            fields = {**group.head.model_dump(exclude_unset=True), "items": group.items}
            order = OrderIn.model_validate(fields)
            async with db.begin_nested():
                await create_order(
                    db, self.ctx, group.customer_id, order, self.actor_id, recompute_value=False
                )
        except (DomainError, ValidationError) as exc:
            self.report.rejected += [
                RejectedRow(line, f"order {group.number}: {reason_of(exc)}") for line in group.lines
            ]
            return
        self.report.created += 1
        self.customers.add(group.customer_id)


def _moment(text: str) -> datetime:
    """An ISO 8601 date-time; a plain date means midnight UTC."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"ordered_at {text!r} is not an ISO 8601 date or date-time") from None


def _customer_key(raw: str, region: str) -> Identity:
    """The identity in an order's customer cell: crm:ID, an email or a phone number."""
    kind = "crm" if raw.lower().startswith("crm:") else "email" if "@" in raw else "phone"
    try:
        return normalise(kind, raw[4:] if kind == "crm" else raw, region)
    except InvalidInput as exc:
        raise InvalidInput(f"customer {exc.message}") from None
