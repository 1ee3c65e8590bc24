"""Managing users from the command line."""

from __future__ import annotations

from typing import Any

import click

from contact_center.cli.common import open_database, run_async, settings_or_exit


@click.group()
def user() -> None:
    """Manage users (agents, supervisors, admins)."""


@user.command("add")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(["agent", "supervisor", "admin"]), default="agent", show_default=True
)
@click.option("--name", "display_name", help="Display name (defaults to the username).")
@click.option("--email", help="Email address for notifications.")
@click.option("--team", help="Team name; created if it does not exist.")
@click.option(
    "--skill", "skills", multiple=True, metavar="NAME:LEVEL", help="A skill with level 1-10; repeatable."
)
@click.option("--language", "languages", multiple=True, metavar="CODE", help="A language code; repeatable.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="CC_NEW_USER_PASSWORD",
    help="The password (prompted for when not given; or CC_NEW_USER_PASSWORD).",
)
def user_add(
    username: str,
    role: str,
    display_name: str | None,
    email: str | None,
    team: str | None,
    skills: tuple[str, ...],
    languages: tuple[str, ...],
    password: str,
) -> None:
    """Create a user."""
    from pydantic import ValidationError

    from contact_center.users.schemas import UserIn

    parsed_skills = {}
    for item in skills:
        name, _, level = item.partition(":")
        if not level.isdigit():
            raise click.BadParameter(
                f"{item!r}: write skills as NAME:LEVEL, e.g. billing:7", param_hint="--skill"
            )
        parsed_skills[name.strip().lower()] = int(level)
    try:
        data = UserIn(
            username=username.lower(),
            display_name=display_name or username,
            password=password,
            role=role,
            email=email,
            languages=list(languages),
            skills=parsed_skills,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(problems) from None
    settings = settings_or_exit()

    async def run() -> int:
        from datetime import UTC, datetime

        from contact_center.users import service

        async with open_database(settings) as sessions, sessions.begin() as db:
            now = datetime.now(UTC)
            if team:
                existing = [t for t in await service.list_teams(db) if t.name.lower() == team.lower()]
                team_row = existing[0] if existing else await service.create_team(db, _team_in(team), now)
                data.team_id = team_row.id
            return (await service.create_user(db, data, now)).id

    user_id = run_async(run)
    click.echo(f"Created {role} {data.username} (id {user_id}).")


def _team_in(name: str) -> Any:
    from contact_center.users.schemas import TeamIn

    return TeamIn(name=name)


@user.command("list")
def user_list() -> None:
    """List users."""
    settings = settings_or_exit()

    async def run() -> list[Any]:
        from contact_center.users import service

        async with open_database(settings) as sessions, sessions() as db:
            return await service.list_users(db)

    for row in run_async(run):
        skills = ", ".join(f"{s.skill.name}:{s.level}" for s in row.skills)
        click.echo(
            f"{row.id:>5}  {row.username:<16} {row.role:<11} {'active' if row.is_active else 'inactive':<9}"
            f"{skills}"
        )
