"""Importing customers and orders from CSV files: one transaction per file, a report of every rejected line.

Each row runs in a SAVEPOINT, so a bad row leaves nothing behind and later rows are still checked. Rows are
matched to stored records by identity (customers) or order number (orders): a second import changes nothing.
"""

from contact_center.customers.importer.customer_file import import_customers
from contact_center.customers.importer.files import ImportFileError, ImportReport, RejectedRow
from contact_center.customers.importer.order_file import import_orders

__all__ = ["ImportFileError", "ImportReport", "RejectedRow", "import_customers", "import_orders"]
