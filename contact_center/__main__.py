"""Allow `python -m contact_center`."""

from contact_center.cli import main

main()
