"""Importing customers and orders from CSV files: one transaction per file and a report of every rejected line.

Each row runs in its own SAVEPOINT, so a bad row leaves nothing behind and the next rows are still checked;
by default any rejected row rolls the whole file back, with skip_invalid the valid rows are committed.
Rows are matched to stored records by identity, so importing the same file again changes nothing.
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
PROGRESS_EVERY = 100
MAX_ATTRIBUTE_LENGTH = 1000
IDENTITY_COLUMNS = {"external_id": "crm", "email": "email", "phone": "phone"}
NAME_COLUMNS = ("display_name", "given_name", "family_name")
FIELD_COLUMNS = (*NAME_COLUMNS, "language", "organisation", "lifecycle_stage")
CUSTOMER_COLUMNS = (*IDENTITY_COLUMNS, *FIELD_COLUMNS)
ORDER_FIELDS = ("status", "currency", "total")
ITEM_FIELDS = ("sku", "product_name", "quantity", "unit_price", "serial_number", "warranty_ends_on")
ORDER_COLUMNS = ("order_number", "customer", "ordered_at", *ORDER_FIELDS, *ITEM_FIELDS)
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

    def reject(self, line: int, reason: str) -> None:
        """Record a rejected line."""
        self.rejected.append(RejectedRow(line, reason))

    def format(self) -> str:
        """The report for people: counts, outcome, then one line per rejected row."""
        counts = (f"{self.rows_read} rows read: {self.created} created, {self.updated} updated, "
                  f"{self.unchanged} unchanged, {len(self.rejected)} rejected.")
        if self.committed:
            outcome = "Imported; the rejected lines were skipped." if self.rejected else "Imported."
        else:
            outcome = "Nothing was imported" + (": fix the lines below and import again." if self.rejected else ".")
        lines = [f"line {r.line}: {r.reason}" for r in sorted(self.rejected, key=lambda r: r.line)]
        return "\n".join([counts, outcome, *lines])


async def import_customers(
    sessions: async_sessionmaker[AsyncSession], ctx: CustomerContext, path: Path, *, skip_invalid: bool = False,
    progress: Progress | None = None, actor_id: int | None = None,
) -> ImportReport:
    """Create or update customers from a CSV file, matching existing ones by CRM id, email or phone."""
    return await _run(sessions, path, _Customers(ctx, actor_id), skip_invalid, progress)


async def import_orders(
    sessions: async_sessionmaker[AsyncSession], ctx: CustomerContext, path: Path, *, skip_invalid: bool = False,
    progress: Progress | None = None, actor_id: int | None = None,
) -> ImportReport:
    """Create orders from a CSV file of order items (consecutive rows with one order number form one order)."""
    return await _run(sessions, path, _Orders(ctx, actor_id), skip_invalid, progress)


class _Importer:
    """One kind of file: which columns it has and what each row does."""

    columns: tuple[str, ...] = ()

    def __init__(self, ctx: CustomerContext, actor_id: int | None) -> None:
        self.ctx, self.actor_id, self.report = ctx, actor_id, ImportReport()

    def header_problems(self, columns: list[str]) -> list[str]:
        raise NotImplementedError

    async def row(self, db: AsyncSession, line: int, values: dict[str, str], extra: int) -> None:
        raise NotImplementedError

    async def end_of_file(self, db: AsyncSession) -> None:
        """Called after the last row."""

    async def before_commit(self, db: AsyncSession) -> None:
        """Called only when the import will be committed."""


async def _run(sessions: async_sessionmaker[AsyncSession], path: Path, importer: _Importer, skip_invalid: bool,
               progress: Progress | None) -> ImportReport:
    report, pending = importer.report, 0
    with _csv_rows(path, importer) as rows:  # the header is checked before anything is written
        async with sessions() as db:
            await _begin(db)
            for line, values, extra in rows:
                report.rows_read += 1
                try:
                    await importer.row(db, line, values, extra)
                except DomainError as exc:
                    report.reject(line, exc.message)
                except ValidationError as exc:
                    report.reject(line, _explain(exc))
                pending += 1
                if progress is not None and pending >= PROGRESS_EVERY:
                    progress(pending)
                    pending = 0
            await importer.end_of_file(db)
            if progress is not None and pending:
                progress(pending)
            if report.rejected and not skip_invalid:
                await db.rollback()
                return report
            await importer.before_commit(db)
            await db.commit()
            report.committed = True
    return report


class _Customers(_Importer):
    columns = CUSTOMER_COLUMNS

    def header_problems(self, columns: list[str]) -> list[str]:
        problems = []
        unknown = [c for c in columns if c not in CUSTOMER_COLUMNS and not (c.startswith("attr.") and c != "attr.")]
        if unknown:
            problems.append(f"unknown columns {_names(unknown)} (known: {', '.join(CUSTOMER_COLUMNS)}, attr.<name>)")
        if not {*NAME_COLUMNS, *IDENTITY_COLUMNS} & set(columns):
            problems.append(f"no column for a name or an identity ({', '.join((*NAME_COLUMNS, *IDENTITY_COLUMNS))})")
        return problems

    async def row(self, db: AsyncSession, line: int, values: dict[str, str], extra: int) -> None:
        _refuse_extra(extra)
        identities = self._identities(values)
        fields = {name: values[name] for name in FIELD_COLUMNS if name in values}
        attributes = {name[5:]: text for name, text in values.items() if name.startswith("attr.")}
        if not identities and not set(NAME_COLUMNS) & fields.keys():
            raise InvalidInput("a row needs a display_name, given_name, family_name, external_id, email or phone")
        too_long = [f"attr.{name}" for name, text in attributes.items() if len(text) > MAX_ATTRIBUTE_LENGTH]
        if too_long:
            raise InvalidInput(f"{', '.join(too_long)}: longer than {MAX_ATTRIBUTE_LENGTH} characters")
        data = CustomerIn(**fields, attributes=attributes,
                          identities=[IdentityIn(kind=i.kind.value, value=i.display_value) for i in identities])
        owners: dict[Identity, int] = {}
        for identity in identities:
            found = await records.find_identity(db, identity)
            if found is not None:
                owners[identity] = found.customer_id
        ids = sorted(set(owners.values()))
        if len(ids) > 1:
            raise InvalidInput(f"identities belong to customers {_names(ids, quote=False)}")
        async with db.begin_nested():
            if not ids:
                await records.create_customer(db, self.ctx, data, self.actor_id)
            else:
                changed = await self._update(db, ids[0], data, fields.keys(),
                                             [i for i in identities if i not in owners])
        if not ids:
            self.report.created += 1
        elif changed:
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    async def _update(self, db: AsyncSession, customer_id: int, data: CustomerIn, given: Any,
                      new_identities: list[Identity]) -> bool:
        customer = await records.get_customer(db, customer_id)
        patch: dict[str, Any] = {}
        for name in given:
            new = getattr(data, name)
            new = new.lower() if name == "language" else new
            if getattr(customer, name) != new:
                patch[name] = new
        if data.attributes and {**customer.attributes, **data.attributes} != customer.attributes:
            patch["attributes"] = {**customer.attributes, **data.attributes}
        if patch:
            await records.update_customer(db, self.ctx, customer_id, CustomerPatch(**patch), self.actor_id)
        for identity in new_identities:
            await records.add_identity(db, self.ctx, customer_id,
                                       IdentityIn(kind=identity.kind.value, value=identity.display_value),
                                       self.actor_id)
        return bool(patch or new_identities)

    def _identities(self, values: dict[str, str]) -> list[Identity]:
        found: dict[tuple[str, str], Identity] = {}
        problems = []
        for column, kind in IDENTITY_COLUMNS.items():
            cell = values.get(column, "")
            for raw in [cell] if kind == "crm" else cell.split(";"):
                if not raw.strip():
                    continue
                try:
                    identity = normalise(kind, raw.strip(), self.ctx.default_region)
                except InvalidInput as exc:
                    problems.append(f"{column} {exc.message}" if exc.message.startswith("'")
                                    else f"{column}: {exc.message}")
                    continue
                found.setdefault((identity.kind.value, identity.value), identity)
        if problems:
            raise InvalidInput("; ".join(problems))
        return list(found.values())


@dataclass
class _Group:
    """The rows of one order seen so far."""

    number: str
    lines: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)
    head: OrderIn | None = None
    customer: Identity | None = None
    customer_id: int = 0
    items: list[OrderItemIn] = field(default_factory=list)


class _Orders(_Importer):
    columns = ORDER_COLUMNS

    def __init__(self, ctx: CustomerContext, actor_id: int | None) -> None:
        super().__init__(ctx, actor_id)
        self.group: _Group | None = None
        self.first_line: dict[str, int] = {}
        self.customers: set[int] = set()

    def header_problems(self, columns: list[str]) -> list[str]:
        unknown = [c for c in columns if c not in ORDER_COLUMNS]
        missing = [c for c in ORDER_REQUIRED if c not in columns]
        return ([f"unknown columns {_names(unknown)} (known: {', '.join(ORDER_COLUMNS)})"] if unknown else []) + (
            [f"missing columns {_names(missing)}"] if missing else [])

    async def row(self, db: AsyncSession, line: int, values: dict[str, str], extra: int) -> None:
        number = values.get("order_number", "")
        if self.group is None or self.group.number != number:
            await self._store(db)
            self.group = _Group(number)
        group = self.group
        group.lines.append(line)
        try:
            first = self.first_line.setdefault(number, line)
            if first != group.lines[0]:
                raise InvalidInput(f"order {number} already appeared on line {first}; "
                                   "the rows of one order must be consecutive")
            _refuse_extra(extra)
            await self._add(db, group, values)
        except (DomainError, ValidationError):
            group.bad.append(line)
            raise

    async def _add(self, db: AsyncSession, group: _Group, values: dict[str, str]) -> None:
        missing = [c for c in ORDER_REQUIRED if c not in values]
        if missing:
            raise InvalidInput(f"{_names(missing)} must not be empty")
        head = OrderIn(order_number=group.number, ordered_at=_moment(values["ordered_at"]),
                       **{k: values[k] for k in ORDER_FIELDS if k in values})
        item = OrderItemIn(**{k: values[k] for k in ITEM_FIELDS if k in values})
        customer = _customer_identity(values["customer"], self.ctx.default_region)
        if group.head is None or group.customer is None:
            found = await records.find_identity(db, customer)
            if found is None:
                raise InvalidInput(f"customer {values['customer']!r} is not known")
            group.head, group.customer, group.customer_id = head, customer, found.customer_id
        else:
            differ = [name for name in ("ordered_at", "currency", "status", "total")
                      if getattr(head, name) != getattr(group.head, name)
                      and (name in head.model_fields_set or name in ("ordered_at", "currency"))]
            if (customer.kind, customer.value) != (group.customer.kind, group.customer.value):
                differ.insert(0, "customer")
            if differ:
                raise InvalidInput(f"{', '.join(differ)} differ from line {group.lines[0]} of order {group.number}")
        group.items.append(item)

    async def end_of_file(self, db: AsyncSession) -> None:
        """Store the last order of the file."""
        await self._store(db)

    async def _store(self, db: AsyncSession) -> None:
        """Store the order whose rows were read last, unless one of its rows was rejected."""
        group, self.group = self.group, None
        if group is None or not group.lines:
            return
        if group.bad:
            lines = ", ".join(str(line) for line in group.bad)
            for line in group.lines:
                if line not in group.bad:
                    self.report.reject(line, f"order {group.number} not imported because of line {lines}")
            return
        if await db.scalar(select(Order.id).where(Order.order_number == group.number)) is not None:
            self.report.unchanged += 1
            return
        try:
            assert group.head is not None  # set by the group's first row, which was good
            order = OrderIn.model_validate({**group.head.model_dump(exclude_unset=True), "items": group.items})
            async with db.begin_nested():
                await create_order(db, self.ctx, group.customer_id, order, self.actor_id, recompute_value=False)
        except (DomainError, ValidationError) as exc:
            reason = exc.message if isinstance(exc, DomainError) else _explain(exc)
            for line in group.lines:
                self.report.reject(line, f"order {group.number}: {reason}")
            return
        self.report.created += 1
        self.customers.add(group.customer_id)

    async def before_commit(self, db: AsyncSession) -> None:
        """Recompute the value of every customer who got orders, once each."""
        await value.recompute(db, self.ctx, sorted(self.customers))


@contextmanager
def _csv_rows(path: Path, importer: _Importer) -> Iterator[Iterator[tuple[int, dict[str, str], int]]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with handle:
        reader = csv.DictReader(handle)
        header = _guarded(path, reader, lambda: reader.fieldnames)
        if not header:
            raise ImportFileError(f"{path} is empty; line 1 must be a header naming the columns")
        columns = [c.strip() if c.strip().startswith("attr.") else c.strip().lower() for c in header]
        problems = importer.header_problems(columns)
        if not set(columns) & set(importer.columns):
            problems.insert(0, "line 1 must be a header naming the columns")
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            problems.append(f"repeated columns {_names(repeated)}")
        if problems:
            raise ImportFileError(f"{path}: bad header on line 1: {'; '.join(problems)}")
        reader.fieldnames = columns
        yield _rows(path, reader)


def _rows(path: Path, reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str], int]]:
    """(line, non-empty cells, number of cells beyond the header) per row; rows with no values are skipped."""
    while (row := _guarded(path, reader, lambda: next(reader, None))) is not None:
        extra = row.pop(None, None) or []
        values = {k: v.strip() for k, v in row.items() if v and v.strip()}
        # line_num is the record's last physical line, and a quoted cell may span several
        line = reader.line_num - sum(v.count("\n") for v in row.values() if v)
        if values or extra:
            yield line, values, len(extra)


def _guarded(path: Path, reader: csv.DictReader[str], read: Callable[[], Any]) -> Any:
    try:
        return read()
    except UnicodeDecodeError:
        raise ImportFileError(f"{path} is not UTF-8 text (undecodable bytes after line {reader.line_num})") from None
    except csv.Error as exc:
        raise ImportFileError(f"{path}, line {reader.line_num + 1}: not valid CSV ({exc})") from None


def _refuse_extra(extra: int) -> None:
    if extra:
        raise InvalidInput(f"{extra} more cells than the header has columns")


def _moment(text: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"ordered_at {text!r} is not an ISO 8601 date or date-time") from None


def _customer_identity(raw: str, region: str) -> Identity:
    kind = "crm" if raw.lower().startswith("crm:") else "email" if "@" in raw else "phone"
    try:
        return normalise(kind, raw[4:] if kind == "crm" else raw, region)
    except InvalidInput as exc:
        raise InvalidInput(f"customer {exc.message}") from None


def _explain(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors())


def _names(items: list[Any], quote: bool = True) -> str:
    texts = [repr(i) if quote else str(i) for i in items]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} and {texts[-1]}"


async def _begin(db: AsyncSession) -> None:
    """Open the file's transaction for real, so that the per-row SAVEPOINTs nest inside it."""
    connection = await db.connection()
    if connection.dialect.name == "sqlite":
        # pysqlite begins a transaction only before INSERT/UPDATE/DELETE: a SAVEPOINT sent first would itself
        # become the transaction, and releasing it would commit rows before the file is accepted.
        raw = await connection.get_raw_connection()
        if not raw.driver_connection.in_transaction:  # type: ignore[union-attr]
            await connection.exec_driver_sql("BEGIN")
