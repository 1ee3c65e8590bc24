"""CSV answers for reports: a header, then the rows; cells a spreadsheet would run as formulas are defused."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def csv_text(header: Sequence[str] | None, rows: Iterable[Sequence[Any]]) -> str:
    """The CSV text of a header (None: rows only, for a streamed file) and rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue()


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> web.Response:
    """A downloadable CSV file."""
    return web.Response(
        text=csv_text(header, rows),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def dict_rows(rows: Sequence[dict[str, Any]], header: Sequence[str]) -> list[list[Any]]:
    """Dictionaries as rows in the header's order."""
    return [[row.get(name) for name in header] for row in rows]
