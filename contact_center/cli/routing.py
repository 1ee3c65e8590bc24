"""Routing's planning tools: staffing by Erlang C/A, and the simulator."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number.", ctx=ctx, param=param)
    return value


@click.command("staffing")
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

    from routing.erlang import ServiceLevelDefinition
    from routing.staffing import staffing_table

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


@click.command("simulate")
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

    from routing import erlang, erlang_a
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
            predicted = erlang_a.erlang_a(agents, load, aht, patience, target_seconds)
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
