"""The `contact-center` command: serve, demo, migrate, users, imports, value, staffing and simulate."""

from __future__ import annotations

import click

from contact_center import __version__
from contact_center.cli import imports, routing, server, users, value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="contact-center")
def main() -> None:
    """Open-source omnichannel contact centre.

    Configuration comes from CC_* environment variables or a .env file; see docs/configuration.md.
    """


for command in (
    server.serve,
    server.demo,
    server.migrate,
    users.user,
    imports.import_group,
    value.value,
    routing.staffing_command,
    routing.simulate_command,
):
    main.add_command(command)
