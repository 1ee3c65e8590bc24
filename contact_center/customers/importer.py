"""Importing customers and orders from CSV files: one transaction per file, a report of every rejected line.

Each row runs in a SAVEPOINT, so a bad row leaves nothing behind and later rows are still checked. Rows are
matched to stored records by identity (customers) or order number (orders): a second import changes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.customers import records, value
from contact_center.customers.context import CustomerContext
from contact_center.customers.identity import Identity, normalise
from contact_center.customers.orders import create_order
from contact_center.customers.schemas import CustomerIn, CustomerPatch, IdentityIn, OrderIn, OrderItemIn
from contact_center.db.models import Order
from contact_center.errors import DomainError, InvalidInput

Progress = Callable[[int], None]
Sessions = async_sessionmaker[AsyncSession]
PROGRESS_EVERY = 100
EXTRA = ""
MAX_ATTRIBUTE_LENGTH = 1000
IDENTITY_COLUMNS = {"external_id": "crm", "email": "email", "phone": "phone"}
NAME_COLUMNS = ("display_name", "given_name", "family_name")
FIELD_COLUMNS = (*NAME_COLUMNS, "language", "organisation", "lifecycle_stage")
ORDER_FIELDS = ("status", "currency", "total")
ITEM_FIELDS = ("sku", "product_name", "quantity", "unit_price", "serial_number", "warranty_ends_on")
ORDER_REQUIRED = ("order_number", "customer", "ordered_at", "sku", "product_name", "unit_price")


class ImportFileError(InvalidInput):
    """The file as a whole cannot be imported: missing, not UTF-8 text, empty, a bad header or broken CSV."""


@dataclass(frozen=True)
class RejectedRow:
    """A line of the file that was not imported, and why."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did; created/updated/unchanged count customers, or orders for an order file."""

    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    committed: bool = False

    def format(self) -> str:
        """Counts, the outcome, then one line per rejected row ("line 7: phone '12' is not ...")."""
        counts = (
            f"{self.rows_read} rows read: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.rejected)} rejected."
        )
        if self.committed:
            outcome = "Imported; the rejected lines were skipped." if self.rejected else "Imported."
        else:
            outcome = "Nothing was imported" + (": fix these lines and try again." if self.rejected else ".")
        return "\n".join([counts, outcome, *(f"line {r.line}: {r.reason}" for r in self.rejected)])


async def import_customers(
    sessions: Sessions,
    ctx: CustomerContext,
    path: Path,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    actor_id: int | None = None,
) -> ImportReport:
    """Create or update customers from a CSV file, matching stored ones by CRM id, email or phone."""
    return await _run(sessions, path, _Customers(ctx, actor_id), skip_invalid, progress)


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
    return await _run(sessions, path, _Orders(ctx, actor_id), skip_invalid, progress)


class _Importer:
    """One kind of file: its columns and what a row does. Row methods raise DomainError to reject the row."""

    columns: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    attributes = False

    def __init__(self, ctx: CustomerContext, actor_id: int | None) -> None:
        self.ctx, self.actor_id, self.report = ctx, actor_id, ImportReport()

    async def row(self, db: AsyncSession, line: int, values: dict[str, str]) -> None:
        raise NotImplementedError

    async def finish(self, db: AsyncSession) -> None:
        """Called after the last row."""


async def _run(
    sessions: Sessions, path: Path, importer: _Importer, skip_invalid: bool, progress: Progress | None
) -> ImportReport:
    report, pending = importer.report, 0
    with _csv_rows(path, importer) as rows:  # the header is checked before anything is written
        async with sessions() as db:
            for line, values in rows:
                report.rows_read += 1
                try:
                    await importer.row(db, line, values)
                except (DomainError, ValidationError) as exc:
                    report.rejected.append(RejectedRow(line, _reason(exc)))
                pending += 1
                if progress is not None and pending >= PROGRESS_EVERY:
                    progress(pending)
                    pending = 0
            await importer.finish(db)
            if progress is not None and pending:
                progress(pending)
            report.rejected.sort(key=lambda r: r.line)
            if report.rejected and not skip_invalid:
                await db.rollback()
            else:
                await db.commit()
                report.committed = True
    return report


class _Customers(_Importer):
    columns = (*IDENTITY_COLUMNS, *FIELD_COLUMNS)
    attributes = True

    async def row(self, db: AsyncSession, line: int, values: dict[str, str]) -> None:
        _refuse_extra_cells(values)
        problems: list[str] = []
        identities = self._identities(values, problems)
        fields = {name: values[name] for name in FIELD_COLUMNS if name in values}
        attributes = {name[5:]: text for name, text in values.items() if name.startswith("attr.")}
        problems += [
            f"attr.{name}: longer than {MAX_ATTRIBUTE_LENGTH} characters"
            for name, text in attributes.items()
            if len(text) > MAX_ATTRIBUTE_LENGTH
        ]
        try:
            data = CustomerIn(
                **fields,
                attributes=attributes,
                identities=[IdentityIn(kind=i.kind.value, value=i.display_value) for i in identities],
            )
        except ValidationError as exc:
            problems.append(_reason(exc))
        if not problems and not identities and not set(NAME_COLUMNS) & fields.keys():
            problems.append("needs a display_name, given_name, family_name, external_id, email or phone")
        if problems:
            raise InvalidInput("; ".join(problems))
        owners = {}
        for identity in identities:
            if (found := await records.find_identity(db, identity)) is not None:
                owners[identity] = found.customer_id
        ids = sorted(set(owners.values()))
        if len(ids) > 1:
            raise InvalidInput(f"identities belong to customers {_and(ids)}")
        async with db.begin_nested():
            if not ids:
                await records.create_customer(db, self.ctx, data, self.actor_id)
            else:
                new = [i for i in identities if i not in owners]
                changed = await self._update(db, ids[0], data, list(fields), new)
        if not ids:
            self.report.created += 1
        elif changed:
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    async def _update(
        self,
        db: AsyncSession,
        customer_id: int,
        data: CustomerIn,
        given: list[str],
        new_identities: list[Identity],
    ) -> bool:
        """Change the fields the row gives that differ, add its new identities; True if anything changed."""
        customer = await records.get_customer(db, customer_id)
        patch: dict[str, Any] = {}
        for name in given:
            new = getattr(data, name).lower() if name == "language" else getattr(data, name)
            if getattr(customer, name) != new:
                patch[name] = new
        if {**customer.attributes, **data.attributes} != customer.attributes:
            patch["attributes"] = {**customer.attributes, **data.attributes}
        if patch:
            await records.update_customer(db, self.ctx, customer_id, CustomerPatch(**patch), self.actor_id)
        for identity in new_identities:
            await records.add_identity(
                db,
                self.ctx,
                customer_id,
                IdentityIn(kind=identity.kind.value, value=identity.display_value),
                self.actor_id,
            )
        return bool(patch or new_identities)

    def _identities(self, values: dict[str, str], problems: list[str]) -> list[Identity]:
        """The row's identities, normalised and without repeats; several emails or phones are split on ';'."""
        found: dict[tuple[str, str], Identity] = {}
        for column, kind in IDENTITY_COLUMNS.items():
            cells = [values.get(column, "")] if kind == "crm" else values.get(column, "").split(";")
            for raw in filter(None, (cell.strip() for cell in cells)):
                try:
                    identity = normalise(kind, raw, self.ctx.default_region)
                except InvalidInput as exc:  # phone and email reasons start with the quoted value
                    separator = " " if exc.message.startswith("'") else ": "
                    problems.append(f"{column}{separator}{exc.message}")
                    continue
                found.setdefault((identity.kind.value, identity.value), identity)
        return list(found.values())


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


class _Orders(_Importer):
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
        _refuse_extra_cells(values)
        missing = [column for column in ORDER_REQUIRED if column not in values]
        if missing:
            raise InvalidInput(f"{_and(missing)} must not be empty")
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
                raise InvalidInput(f"{_and(differ)} differ from line {group.lines[0]} of the same order")
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
                    RejectedRow(line, f"order {group.number} not imported because of line {_and(group.bad)}")
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
                RejectedRow(line, f"order {group.number}: {_reason(exc)}") for line in group.lines
            ]
            return
        self.report.created += 1
        self.customers.add(group.customer_id)


@contextmanager
def _csv_rows(path: Path, importer: _Importer) -> Iterator[Iterator[tuple[int, dict[str, str]]]]:
    """Check the header, then give (line, non-empty cells) for each row that has any."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with handle:
        reader = csv.DictReader(handle, strict=True)  # an unclosed quote must not swallow lines
        header = _guarded(path, reader, lambda: reader.fieldnames)
        if not header:
            raise ImportFileError(f"{path} is empty; line 1 must be a header naming the columns")
        columns = [c.strip() if c.strip().startswith("attr.") else c.strip().lower() for c in header]
        unknown = [
            c
            for c in columns
            if c not in importer.columns
            and not (importer.attributes and c.startswith("attr.") and c != "attr.")
        ]
        missing = [c for c in importer.required if c not in columns]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        known = ", ".join(importer.columns) + (", attr.<name>" if importer.attributes else "")
        problems = [f"unknown columns {_and(unknown, repr)} (known: {known})"] if unknown else []
        problems += [f"missing columns {_and(missing)}"] if missing else []
        problems += [f"repeated columns {_and(repeated)}"] if repeated else []
        if len(unknown) == len(columns):
            problems.insert(0, "line 1 must be a header naming the columns")
        if problems:
            raise ImportFileError(f"{path}: bad header on line 1: {'; '.join(problems)}")
        reader.fieldnames = columns
        yield _rows(path, reader)


def _rows(path: Path, reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    while (row := _guarded(path, reader, lambda: next(reader, None))) is not None:
        extra = row.pop(None, None)  # cells beyond the header's columns
        values = {k: v.strip() for k, v in row.items() if v and v.strip()}
        if extra:  # the importer rejects the row; no column is named ""
            values[EXTRA] = f"{len(extra)} more cells than the header has columns"
        # line_num is the record's last physical line, and a quoted cell may span several
        line = reader.line_num - sum(v.count("\n") for v in row.values() if v)
        if values:
            yield line, values


def _guarded(path: Path, reader: csv.DictReader[str], read: Callable[[], Any]) -> Any:
    try:
        return read()
    except UnicodeDecodeError:
        raise ImportFileError(f"{path} is not UTF-8 text (bad bytes after line {reader.line_num})") from None
    except csv.Error as exc:
        raise ImportFileError(f"{path}, line {reader.line_num + 1}: not valid CSV ({exc})") from None


def _refuse_extra_cells(values: dict[str, str]) -> None:
    if EXTRA in values:
        raise InvalidInput(values[EXTRA])


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


def _reason(exc: DomainError | ValidationError) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


def _and(items: list[Any], show: Callable[[Any], str] = str) -> str:
    texts = [show(item) for item in items]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} and {texts[-1]}"
