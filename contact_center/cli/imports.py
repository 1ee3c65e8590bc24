"""Importing customers and orders from CSV files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from contact_center.cli.common import open_database, run_async, settings_or_exit


@click.group("import")
def import_group() -> None:
    """Import customers or orders from CSV files (all or nothing unless --skip-invalid)."""


@import_group.command("customers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows and report the rejected ones.")
def import_customers(file: Path, skip_invalid: bool) -> None:
    """Import customers: external_id, display_name, given_name, family_name, email, phone, language, ..."""
    _import(file, skip_invalid, "customers")


@import_group.command("orders")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the valid orders and report the rejected rows.")
def import_orders(file: Path, skip_invalid: bool) -> None:
    """Import orders, one row per item: order_number, customer, ordered_at, sku, product_name, ..."""
    _import(file, skip_invalid, "orders")


def _import(file: Path, skip_invalid: bool, kind: str) -> None:
    settings = settings_or_exit()
    from contact_center.customers import importer
    from contact_center.customers.context import CustomerContext

    rows = max(0, sum(1 for _ in file.open("rb")) - 1)
    function = importer.import_customers if kind == "customers" else importer.import_orders

    async def run() -> Any:
        ctx = CustomerContext.from_settings(settings)
        async with open_database(settings) as sessions:
            with click.progressbar(length=rows, label=f"Importing {kind}", file=sys.stderr) as bar:
                return await function(sessions, ctx, file, skip_invalid=skip_invalid, progress=bar.update)

    report = run_async(run)
    click.echo(report.format())
    if report.rejected and not report.committed:
        sys.exit(1)
