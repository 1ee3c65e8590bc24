"""The `contact-center` command: serve, demo, migrate, user management and imports."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from contact_center import __version__
from contact_center.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from contact_center.errors import DomainError

    try:
        return asyncio.run(factory())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


def _logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="contact-center")
def main() -> None:
    """Open-source omnichannel contact centre.

    Configuration comes from CC_* environment variables or a .env file; see docs/configuration.md.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
def serve(host: str, port: int) -> None:
    """Run the application (migrates an embedded SQLite database; refuses an unmigrated other one)."""
    settings = _settings()
    _logging(settings)
    _serve(settings, host, port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option(
    "--customers",
    default=60,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="How many demo customers to create on first start.",
)
def demo(host: str, port: int, customers: int) -> None:
    """Run with demo data (agents, supervisors, customers with orders, queues) on embedded defaults."""
    settings = _settings()
    if not settings.database_url:
        settings = _settings(data_dir=settings.data_dir / "demo")
    _logging(settings)
    from contact_center.app import ensure_schema
    from contact_center.customers.context import CustomerContext
    from contact_center.db.engine import create_engine, session_factory
    from contact_center.demo.seed import DEMO_PASSWORD, demo_logins, seed_demo

    async def seed() -> bool:
        await ensure_schema(settings)
        engine = create_engine(settings.effective_database_url)
        try:
            ctx = CustomerContext(default_region=settings.default_region, value_model=settings.value_model)
            return await seed_demo(session_factory(engine), ctx, customers)
        finally:
            await engine.dispose()

    created = _run(seed)
    base = f"http://{'localhost' if host in {'127.0.0.1', '0.0.0.0', '::'} else host}:{port}"  # noqa: S104
    click.echo(
        f"\nContact centre demo ({'new demo data' if created else 'existing demo data'}: "
        f"{settings.effective_database_url})"
    )
    click.echo(f"  Start page     {base}/")
    click.echo(f"  API            {base}/api/openapi.json")
    click.echo(f"  Health         {base}/healthz")
    click.echo(f"  Metrics        {base}/metrics")
    click.echo(f"\nLogins (password for all: {DEMO_PASSWORD}):")
    for login in demo_logins():
        click.echo(f"  {login.username:<10} {login.role:<11} {login.description}")
    click.echo("")
    _serve(settings, host, port)


def _serve(settings: Settings, host: str, port: int) -> None:
    from aiohttp import web

    from contact_center.app import DatabaseNotMigrated, create_app, ensure_schema

    try:
        asyncio.run(ensure_schema(settings))
    except DatabaseNotMigrated as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach the database: {exc}") from None
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        access_log=None,
        print=lambda text: click.echo(text, err=True),
    )


@main.command()
def migrate() -> None:
    """Apply database migrations up to the newest (CC_DATABASE_URL, or the embedded SQLite file)."""
    settings = _settings()
    from contact_center.db.engine import create_engine
    from contact_center.db.migrate import current_revision, head_revision, upgrade

    async def run() -> tuple[str | None, str | None]:
        engine = create_engine(settings.effective_database_url)
        try:
            before = await current_revision(engine)
            await upgrade(engine)
            return before, await current_revision(engine)
        finally:
            await engine.dispose()

    before, after = _run(run)
    if before == after:
        click.echo(f"Already at the newest revision ({head_revision()}).")
    else:
        click.echo(f"Migrated from {before or 'an empty database'} to {after}.")


@main.group()
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
    settings = _settings()

    async def run() -> int:
        from datetime import UTC, datetime

        from contact_center.app import ensure_schema
        from contact_center.db.engine import create_engine, session_factory
        from contact_center.users import service

        await ensure_schema(settings)
        engine = create_engine(settings.effective_database_url)
        try:
            async with session_factory(engine).begin() as db:
                now = datetime.now(UTC)
                if team:
                    existing = [t for t in await service.list_teams(db) if t.name.lower() == team.lower()]
                    team_row = existing[0] if existing else await service.create_team(db, _team_in(team), now)
                    data.team_id = team_row.id
                return (await service.create_user(db, data, now)).id
        finally:
            await engine.dispose()

    user_id = _run(run)
    click.echo(f"Created {role} {data.username} (id {user_id}).")


def _team_in(name: str) -> Any:
    from contact_center.users.schemas import TeamIn

    return TeamIn(name=name)


@user.command("list")
def user_list() -> None:
    """List users."""
    settings = _settings()

    async def run() -> list[Any]:
        from contact_center.app import ensure_schema
        from contact_center.db.engine import create_engine, session_factory
        from contact_center.users import service

        await ensure_schema(settings)
        engine = create_engine(settings.effective_database_url)
        try:
            async with session_factory(engine)() as db:
                return await service.list_users(db)
        finally:
            await engine.dispose()

    for row in _run(run):
        skills = ", ".join(f"{s.skill.name}:{s.level}" for s in row.skills)
        click.echo(
            f"{row.id:>5}  {row.username:<16} {row.role:<11} {'active' if row.is_active else 'inactive':<9}"
            f"{skills}"
        )


@main.group("import")
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
    settings = _settings()
    from contact_center.customers import importer
    from contact_center.customers.context import CustomerContext

    rows = max(0, sum(1 for _ in file.open("rb")) - 1)
    function = importer.import_customers if kind == "customers" else importer.import_orders

    async def run() -> Any:
        from contact_center.app import ensure_schema
        from contact_center.db.engine import create_engine, session_factory

        await ensure_schema(settings)
        engine = create_engine(settings.effective_database_url)
        ctx = CustomerContext(default_region=settings.default_region, value_model=settings.value_model)
        try:
            with click.progressbar(length=rows, label=f"Importing {kind}", file=sys.stderr) as bar:
                return await function(
                    session_factory(engine), ctx, file, skip_invalid=skip_invalid, progress=bar.update
                )
        finally:
            await engine.dispose()

    report = _run(run)
    click.echo(report.format())
    if report.rejected and not report.committed:
        sys.exit(1)


@main.group()
def value() -> None:
    """The customer value model."""


@value.command("recompute")
def value_recompute() -> None:
    """Recompute every customer's value score and tier (run daily: recency and tenure move with time)."""
    settings = _settings()

    async def run() -> int:
        from contact_center.app import ensure_schema
        from contact_center.customers import value as value_service
        from contact_center.customers.context import CustomerContext
        from contact_center.db.engine import create_engine, session_factory

        await ensure_schema(settings)
        engine = create_engine(settings.effective_database_url)
        ctx = CustomerContext(default_region=settings.default_region, value_model=settings.value_model)
        try:
            async with session_factory(engine).begin() as db:
                return await value_service.recompute_all(db, ctx)
        finally:
            await engine.dispose()

    click.echo(f"Recomputed {_run(run)} customers.")


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number.", ctx=ctx, param=param)
    return value


@main.command("staffing")
@click.option(
    "--arrivals-per-hour",
    type=click.FloatRange(min=0),
    required=True,
    callback=_finite,
    help="Calls offered per hour.",
)
@click.option(
    "--aht",
    "aht_seconds",
    type=click.FloatRange(min=0, min_open=True),
    required=True,
    callback=_finite,
    help="Average handle time in seconds (talk, hold and wrap-up).",
)
@click.option(
    "--target-service-level",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    callback=_finite,
    help="Fraction of calls to answer within the target time.",
)
@click.option(
    "--target-seconds",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    callback=_finite,
    help="The target answer time in seconds.",
)
@click.option(
    "--patience",
    "patience_seconds",
    type=click.FloatRange(min=0, min_open=True),
    callback=_finite,
    help="Mean caller patience in seconds: model abandonment (Erlang A) instead of Erlang C.",
)
@click.option(
    "--max-occupancy",
    type=click.FloatRange(0, 1, min_open=True),
    callback=_finite,
    help="Also keep agent occupancy at or below this fraction.",
)
@click.option(
    "--service-level-definition",
    type=click.Choice(["offered", "excluding-early-abandons"]),
    default="offered",
    show_default=True,
    help="With --patience: answered in time over all offered calls, or over those not abandoned in time.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def staffing_command(
    arrivals_per_hour: float,
    aht_seconds: float,
    target_service_level: float,
    target_seconds: float,
    patience_seconds: float | None,
    max_occupancy: float | None,
    service_level_definition: str,
    as_json: bool,
) -> None:
    """Agents needed for a service level by Erlang C (Erlang A with --patience), with N-2..N+2 agents."""
    import json

    from routing.erlang import ServiceLevelDefinition, staffing_table

    try:
        table = staffing_table(
            arrivals_per_hour,
            aht_seconds,
            target_service_level,
            target_seconds,
            patience_seconds,
            max_occupancy=max_occupancy,
            definition=ServiceLevelDefinition(service_level_definition),
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(table.to_dict(), allow_nan=False))
        return
    model = "Erlang C" if patience_seconds is None else f"Erlang A, mean patience {patience_seconds:g} s"
    click.echo(
        f"{model}: {arrivals_per_hour:g} calls/hour, AHT {aht_seconds:g} s = {table.load:.2f} Erlangs; "
        f"target {target_service_level:.0%} answered within {target_seconds:g} s"
        + (f", occupancy at most {max_occupancy:.0%}" if max_occupancy is not None else "")
    )
    click.echo(f"Required agents: {table.required_agents}")
    header = f"  {'agents':>6}  {'service level':>13}  {'P(wait)':>7}  {'ASA (s)':>8}  {'occupancy':>9}"
    click.echo("\n" + header + ("  abandoned" if patience_seconds is not None else ""))
    for row in table.rows:
        marker = ">" if row.agents == table.required_agents else " "
        line = (
            f"{marker} {row.agents:>6}  {row.service_level:>13.1%}  {row.p_wait:>7.1%}  "
            f"{row.asa_seconds:>8.1f}  {row.occupancy:>9.1%}"
        )
        if row.abandon_rate is not None:
            line += f"  {row.abandon_rate:>9.1%}"
        click.echo(line)


@main.command("simulate")
@click.option("--agents", type=click.IntRange(1, 100_000), help="Agents in the single queue.")
@click.option(
    "--arrivals-per-hour", type=click.FloatRange(min=0, min_open=True), help="Poisson arrival rate."
)
@click.option("--aht", type=click.FloatRange(min=0, min_open=True), help="Average handle time, seconds.")
@click.option(
    "--target-seconds",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Service-level target: answered within this many seconds.",
)
@click.option(
    "--hours",
    default=8.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Simulated time.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed (same seed, same result).")
@click.option(
    "--patience",
    type=click.FloatRange(min=0, min_open=True),
    help="Mean caller patience, seconds (exponential); callers hang up after it.",
)
@click.option(
    "--distribution",
    type=click.Choice(["exponential", "lognormal"]),
    default="exponential",
    show_default=True,
    help="Handle-time distribution.",
)
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON scenario with several queues, skills and agent groups (see docs/routing.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def simulate_command(
    agents: int | None,
    arrivals_per_hour: float | None,
    aht: float | None,
    target_seconds: float,
    hours: float,
    seed: int,
    patience: float | None,
    distribution: str,
    scenario: Path | None,
    as_json: bool,
) -> None:
    """Run the real routing engine on a virtual clock and report service level, waits and occupancy."""
    import json

    from routing import erlang
    from routing.simulator import load_scenario, simulate, single_queue

    if scenario is not None:
        try:
            plan = load_scenario(scenario, hours=hours, seed=seed)
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(f"{scenario}: not a valid scenario ({exc})") from None
    else:
        missing = [
            n
            for n, v in (("--agents", agents), ("--arrivals-per-hour", arrivals_per_hour), ("--aht", aht))
            if v is None
        ]
        if missing:
            raise click.UsageError(f"give {', '.join(missing)} (or --scenario FILE)")
        assert agents is not None and arrivals_per_hour is not None and aht is not None
        plan = single_queue(
            agents,
            arrivals_per_hour,
            aht,
            target_seconds=target_seconds,
            hours=hours,
            seed=seed,
            patience_seconds=patience,
            distribution=distribution,
        )
    if as_json:
        result = asyncio.run(simulate(plan))
    else:
        with click.progressbar(length=100, label="Simulating", file=sys.stderr) as bar:
            done = [0]

            def advance(share: float) -> None:
                step = int(share * 100) - done[0]
                if step > 0:
                    bar.update(step)
                    done[0] += step

            result = asyncio.run(simulate(plan, advance))
    if scenario is None and agents and arrivals_per_hour and aht:
        load = erlang.offered_load(arrivals_per_hour, aht)
        if patience is None:
            result["erlang_c"] = {
                "service_level": round(erlang.service_level(agents, load, aht, target_seconds), 4),
                "p_wait": round(erlang.erlang_c(agents, load), 4),
                "asa_seconds": round(erlang.average_speed_of_answer(agents, load, aht), 2)
                if agents > load
                else None,
            }
        else:
            predicted = erlang.erlang_a(agents, load, aht, patience, target_seconds)
            result["erlang_a"] = {
                "service_level": round(predicted.service_level_excluding_early_abandons, 4),
                "p_wait": round(predicted.p_wait, 4),
                "asa_seconds": round(predicted.asa_seconds, 2),
                "abandon_rate": round(predicted.p_abandon, 4),
            }
    result.pop("scenario", None)
    if as_json:
        click.echo(json.dumps(result))
        return
    rows = [
        ("offered", result["offered"]),
        ("answered", result["answered"]),
        ("abandoned", result["abandoned"]),
        ("service level", result["service_level"]),
        ("waited at all (p_wait)", result["p_wait"]),
        ("average speed of answer (s)", result["asa_seconds"]),
        ("abandon rate", result["abandon_rate"]),
        ("occupancy", result["occupancy"]),
    ]
    click.echo(f"\nSimulated {hours:g} h, {result['agents']} agents, seed {seed}")
    for label, figure in rows:
        click.echo(f"  {label:<30} {figure}")
    for model, name in (("erlang_c", "Erlang C"), ("erlang_a", "Erlang A")):
        if model in result:
            predicted = result[model]
            click.echo(
                f"  {name} predicts: service level {predicted['service_level']}, p_wait "
                f"{predicted['p_wait']}, ASA {predicted['asa_seconds']} s"
            )
