"""Reading CSV files for import: header checks, streamed rows with their line numbers, one transaction per
file with a SAVEPOINT per row, and the report of what was done and what was rejected."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.customers.context import CustomerContext
from contact_center.errors import DomainError, InvalidInput

Progress = Callable[[int], None]
Sessions = async_sessionmaker[AsyncSession]
PROGRESS_EVERY = 100
EXTRA = ""


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


class RowImporter:
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


async def run_file(
    sessions: Sessions, path: Path, importer: RowImporter, skip_invalid: bool, progress: Progress | None
) -> ImportReport:
    report, pending = importer.report, 0
    with _csv_rows(path, importer) as rows:  # the header is checked before anything is written
        async with sessions() as db:
            for line, values in rows:
                report.rows_read += 1
                try:
                    await importer.row(db, line, values)
                except (DomainError, ValidationError) as exc:
                    report.rejected.append(RejectedRow(line, reason_of(exc)))
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


@contextmanager
def _csv_rows(path: Path, importer: RowImporter) -> Iterator[Iterator[tuple[int, dict[str, str]]]]:
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
        problems = [f"unknown columns {join_and(unknown, repr)} (known: {known})"] if unknown else []
        problems += [f"missing columns {join_and(missing)}"] if missing else []
        problems += [f"repeated columns {join_and(repeated)}"] if repeated else []
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


def refuse_extra_cells(values: dict[str, str]) -> None:
    if EXTRA in values:
        raise InvalidInput(values[EXTRA])


def reason_of(exc: DomainError | ValidationError) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


def join_and(items: list[Any], show: Callable[[Any], str] = str) -> str:
    texts = [show(item) for item in items]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} and {texts[-1]}"
