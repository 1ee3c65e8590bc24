"""Reports over a year of history: at least 2 million conversations in PostgreSQL, and each report's answer time
through the HTTP API (median and max of `--runs` calls). Goal (issue 8): every report under 2 s.

What is loaded (in PostgreSQL itself, with generate_series, so loading takes a minute, not an hour):
- `--agents` agents (users) and `--customers` customers;
- `--conversations` conversations over the `--days` days before `--end`, on voice, SMS, email and chat, in
  four queues, with more contacts on weekdays and in office hours; 92% answered (wait 0-60 s, handle 2-8
  minutes), the rest abandoned; a disposition and a contact reason on the answered ones;
- the interval counters (`interval_stats`: queue rows per 15 minutes, agent rows per day) and the wrap-up
  code counts (`reason_stats`) built from those conversations by SQL aggregates (the counts the application
  keeps from routing events as they happen), in the business time zone `--timezone`;
- tickets for 3% of the conversations, in four categories, with SLA clocks met or breached.

What is timed: GET requests to an application started on that database in this process (aiohttp's test
server; a supervisor's API token), so each figure includes the query, the Python around it and the JSON.
The streamed CSV export of a month is timed too, but it is a download, not a report, and the goal does not
apply to it.

Run (progress on stderr, JSON on stdout):

    python -m bench.reports                       # load 2,000,000 conversations into cc_bench_reports, measure
    python -m bench.reports --reuse --json        # measure again on the loaded database
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.chat import log
from bench.webhooks import fresh_postgres

GOAL_SECONDS = 2.0
QUEUES = ("general", "sales", "support", "billing")
CHANNELS = ("voice", "sms", "email", "chat")
DISPOSITIONS = ("resolved", "callback", "escalated", "no_action")
REASONS = ("delivery", "billing", "defect", "returns", "account", "product_question")
CATEGORIES = ("complaint", "service_request", "inquiry", "repair")


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def load(args: argparse.Namespace) -> dict[str, Any]:
    """Create and fill the database; the row counts."""
    version = await fresh_postgres(args.database_url, args.admin_database)
    log(f"PostgreSQL {version}: database created and migrated")
    connection = await asyncpg.connect(dsn(args.database_url))
    start_day = args.end - timedelta(days=args.days - 1)
    steps = [
        (
            "queues and wrap-up codes",
            [
                *(
                    f"INSERT INTO queues (name, description, channels, required_skills, target_service_level,"
                    f" target_answer_seconds, max_wait_seconds) VALUES ('{q}', '', '[]', '{{}}', 80, 20, 600)"
                    for q in QUEUES
                ),
                *(
                    f"INSERT INTO wrap_up_codes (kind, code, label, position, active)"
                    f" VALUES ('{kind}', '{code}', '{code.replace('_', ' ').capitalize()}', {i}, true)"
                    for kind, codes in (("disposition", DISPOSITIONS), ("contact_reason", REASONS))
                    for i, code in enumerate(codes)
                ),
            ],
        ),
        (
            f"{args.agents} agents",
            [
                f"""INSERT INTO users (username, display_name, password_hash, role, is_active, capacity, languages,
                    created_at)
                SELECT 'agent' || n, 'Agent ' || n, 'x', 'agent', true, '{{}}', '["en"]', now()
                FROM generate_series(1, {args.agents}) n"""
            ],
        ),
        (
            f"{args.customers:,} customers",
            [
                f"""INSERT INTO customers (display_name, given_name, family_name, language, organisation,
                    lifecycle_stage, attributes, value_score, value_tier, created_at, updated_at)
                SELECT 'Customer ' || n, 'Given' || n, 'Family' || n, 'en', '', 'customer', '{{}}',
                    random() * 100,
                    (ARRAY['platinum','gold','silver','bronze','bronze','bronze'])[1 + (n % 6)],
                    now(), now()
                FROM generate_series(1, {args.customers}) n"""
            ],
        ),
        (
            f"{args.conversations:,} conversations over {args.days} days",
            [
                f"""INSERT INTO conversations (customer_id, channel, status, subject, snippet, agent_id,
                    started_at, last_activity_at, queue, routing_state, priority, language, complaint,
                    answered_at, ended_at, wait_seconds, handle_seconds, disposition, contact_reason,
                    wrap_up_note)
                SELECT c.customer_id, c.channel, 'closed', '', '', CASE WHEN c.answered THEN c.agent END,
                    c.started, c.started + make_interval(secs => c.wait + c.handle), c.queue,
                    CASE WHEN c.answered THEN 'done' ELSE 'abandoned' END, 0, 'en', c.n % 50 = 0,
                    CASE WHEN c.answered THEN c.started + make_interval(secs => c.wait) END,
                    c.started + make_interval(secs => c.wait + CASE WHEN c.answered THEN c.handle ELSE 0 END),
                    c.wait, CASE WHEN c.answered THEN c.handle END,
                    CASE WHEN c.answered THEN (ARRAY{list(DISPOSITIONS)})[1 + c.n % {len(DISPOSITIONS)}] END,
                    CASE WHEN c.answered THEN (ARRAY{list(REASONS)})[1 + (c.n / 7) % {len(REASONS)}] END, ''
                FROM (
                    SELECT n, (1 + (n::bigint * 7919) % {args.customers})::int AS customer_id,
                        (ARRAY{list(CHANNELS)})[1 + n % 4] AS channel,
                        (ARRAY{list(QUEUES)})[1 + (n / 3) % 4] AS queue,
                        (1 + (n::bigint * 31) % {args.agents})::int AS agent,
                        random() > 0.08 AS answered,
                        random() * 60 AS wait, 120 + random() * 360 AS handle,
                        timestamptz '{start_day.isoformat()} 00:00:00+00'
                            + make_interval(days => (n % {args.days})::int)
                            + make_interval(secs => 7 * 3600 + 12 * 3600 * sqrt(random())) AS started
                    FROM generate_series(1, {args.conversations}) n
                ) c"""
            ],
        ),
        (
            "interval counters from the conversations: queue rows per 15 minutes",
            [
                _counters_sql(
                    args.timezone,
                    "to_timestamp(floor(extract(epoch FROM started_at) / 900) * 900)",
                    "queue",
                    "channel",
                    "0",
                    "",
                )
            ],
        ),
        (
            "interval counters: agent rows per local day",
            [
                _counters_sql(
                    args.timezone,
                    f"((started_at AT TIME ZONE '{args.timezone}')::date::timestamp)"
                    f" AT TIME ZONE '{args.timezone}'",
                    "'*'",
                    "'*'",
                    "agent_id",
                    "WHERE agent_id IS NOT NULL",
                )
            ],
        ),
        (
            "wrap-up code counts",
            [
                f"""INSERT INTO reason_stats (local_day, queue, channel, kind, code, contacts)
                SELECT (ended_at AT TIME ZONE '{args.timezone}')::date, queue, channel, kind, code, count(*)
                FROM conversations,
                    LATERAL (VALUES ('disposition', disposition), ('contact_reason', contact_reason)) AS k(kind, code)
                WHERE code IS NOT NULL
                GROUP BY 1, 2, 3, 4, 5"""
            ],
        ),
        (
            "tickets and their SLA clocks",
            [
                f"""INSERT INTO tickets (customer_id, subject, category, status, priority, severity, created_at,
                    updated_at, conversation_id, description, source, tier, tags, custom_fields,
                    escalation_causes, queue, resolved_at, reopened_count)
                SELECT customer_id, 'Ticket ' || id, (ARRAY{list(CATEGORIES)})[1 + id % 4],
                    CASE WHEN id % 7 = 0 THEN 'open' ELSE 'resolved' END, 'normal', 'minor', started_at,
                    started_at, id, '', 'agent', 1 + (id % 11 = 0)::int + (id % 33 = 0)::int, '[]', '{{}}',
                    '[]', queue, CASE WHEN id % 7 <> 0 THEN started_at + make_interval(hours => 1 + id % 72) END, 0
                FROM conversations WHERE id % 33 = 0""",
                """INSERT INTO ticket_slas (ticket_id, metric, cycle, target_seconds, consumed_seconds, due_at,
                    met_at, breached_at)
                SELECT id, 'resolution', 1, 86400, 0, created_at + interval '1 day',
                    CASE WHEN id % 5 <> 0 THEN resolved_at END, CASE WHEN id % 5 = 0 THEN created_at
                    + interval '1 day' END
                FROM tickets""",
            ],
        ),
        ("ANALYZE", ["ANALYZE"]),
    ]
    try:
        for name, statements in steps:
            started = time.perf_counter()
            for statement in statements:
                await connection.execute(statement)
            log(f"  {name}: {time.perf_counter() - started:.1f} s")
        counts = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("conversations", "customers", "interval_stats", "reason_stats", "tickets")
        }
    finally:
        await connection.close()
    return {"server_version": version, "rows": counts}


def _counters_sql(zone: str, bucket: str, queue: str, channel: str, agent: str, where: str) -> str:
    """INSERT ... SELECT of interval counters from the conversations, as routing events would have added them
    (a contact counts when it arrived; 20 s target; one in five answered contacts rated 3 to 5)."""
    return f"""INSERT INTO interval_stats (interval_start, queue, channel, agent_id, local_day, offered, answered,
            answered_in_target, abandoned, abandoned_in_target, fell_back, wait_answered_seconds,
            wait_abandoned_seconds, handled, handle_seconds, transfers, rated, rating_sum)
        SELECT bucket, q, ch, a, (bucket AT TIME ZONE '{zone}')::date,
            count(*), count(answered_at),
            count(*) FILTER (WHERE answered_at IS NOT NULL AND wait_seconds <= 20),
            count(*) FILTER (WHERE answered_at IS NULL),
            count(*) FILTER (WHERE answered_at IS NULL AND wait_seconds <= 20), 0,
            coalesce(sum(wait_seconds) FILTER (WHERE answered_at IS NOT NULL), 0),
            coalesce(sum(wait_seconds) FILTER (WHERE answered_at IS NULL), 0),
            count(handle_seconds), coalesce(sum(handle_seconds), 0), 0,
            count(*) FILTER (WHERE id % 5 = 0 AND answered_at IS NOT NULL),
            coalesce(sum(3 + id % 3) FILTER (WHERE id % 5 = 0 AND answered_at IS NOT NULL), 0)
        FROM (SELECT *, {bucket} AS bucket, {queue} AS q, {channel} AS ch, {agent} AS a
              FROM conversations {where}) c
        GROUP BY bucket, q, ch, a"""


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Time each report through the API, `--runs` times."""
    from aiohttp.test_utils import TestClient, TestServer

    from contact_center.app import create_app
    from contact_center.auth.sessions import issue_token
    from contact_center.settings import load_settings
    from contact_center.users import service
    from contact_center.users.schemas import UserIn

    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            database_url=args.database_url,
            data_dir=Path(data_dir),
            secret_key="bench-secret",
            timezone=args.timezone,
        )
        app = create_app(settings, tick_interval=None)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            token = await _supervisor_token(app, service, UserIn, issue_token)
            headers = {"Authorization": f"Bearer {token}"}
            end, year_ago = args.end, args.end - timedelta(days=args.days - 1)
            month_ago = end - timedelta(days=30)
            reports = {
                "intervals, day, a year, by queue and channel": (
                    "/api/reports/intervals",
                    {"from": year_ago, "to": end, "grain": "day", "by": "queue,channel"},
                ),
                "intervals, week, a year, by agent": (
                    "/api/reports/intervals",
                    {"from": year_ago, "to": end, "grain": "week", "by": "agent"},
                ),
                "intervals, day, a year, totals (the report page's chart)": (
                    "/api/reports/intervals",
                    {"from": year_ago, "to": end, "grain": "day"},
                ),
                "intervals, 15 minutes, 31 days, by queue": (
                    "/api/reports/intervals",
                    {"from": month_ago, "to": end, "grain": "15m", "by": "queue"},
                ),
                "intervals, hour, 62 days, by channel": (
                    "/api/reports/intervals",
                    {"from": end - timedelta(days=61), "to": end, "grain": "hour", "by": "channel"},
                ),
                "intervals, day, a year, CSV": (
                    "/api/reports/intervals",
                    {"from": year_ago, "to": end, "grain": "day", "by": "queue,channel", "format": "csv"},
                ),
                "contact reasons, week, a year": (
                    "/api/reports/reasons",
                    {"from": year_ago, "to": end, "grain": "week"},
                ),
                "complaints, a year": ("/api/reports/complaints", {"from": year_ago, "to": end}),
                "staffing, next day, 4 weeks of history": (
                    "/api/reports/staffing",
                    {"queue": "general", "day": end + timedelta(days=1)},
                ),
                "value pyramid": ("/api/value/pyramid", {}),
                "raw export, JSON page of 500": (
                    "/api/reports/conversations",
                    {"from": month_ago, "to": end, "limit": 500},
                ),
            }
            results = {}
            for name, (path, query) in reports.items():
                results[name] = await _time(client, path, query, headers, args.runs)
                log(
                    f"  {name}: median {results[name]['median_ms']:.0f} ms, max {results[name]['max_ms']:.0f} ms"
                )
            export = await _time(
                client,
                "/api/reports/conversations",
                {"from": month_ago, "to": end, "format": "csv"},
                headers,
                1,
            )
            log(
                f"  raw export, CSV of 31 days: {export['median_ms'] / 1000:.1f} s, {export['bytes']:,} bytes"
            )
        finally:
            await client.close()
    worst = max(result["median_ms"] for result in results.values())
    return {
        "reports": results,
        "csv_export_31_days": export,
        "worst_median_ms": worst,
        "goal_ms": GOAL_SECONDS * 1000,
        "ratio_to_goal": round(worst / (GOAL_SECONDS * 1000), 3),
        "goal_met": worst < GOAL_SECONDS * 1000,
    }


async def _supervisor_token(app: Any, service: Any, user_in: Any, issue_token: Any) -> str:
    from contact_center.web.appkeys import CLOCK, SESSIONS

    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        user = await service.create_user(
            db,
            user_in(
                username=f"bench-supervisor-{int(time.time())}",
                display_name="Bench supervisor",
                password="bench-password-1",
                role="supervisor",
            ),
            now,
        )
        _, secret = await issue_token(db, user, "bench", now)
    return secret


async def _time(client: Any, path: str, query: dict[str, Any], headers: dict, runs: int) -> dict[str, Any]:
    params = {key: str(value) for key, value in query.items()}
    seconds, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(path, params=params, headers=headers)
        body = await response.read()
        seconds.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}: {body[:300]!r}")
        size = len(body)
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
        "runs": runs,
        "bytes": size,
    }


async def loaded(args: argparse.Namespace) -> bool:
    try:
        connection = await asyncpg.connect(dsn(args.database_url))
    except (OSError, asyncpg.InvalidCatalogNameError):
        return False
    try:
        return (await connection.fetchval("SELECT count(*) FROM conversations")) >= args.conversations
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await connection.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    if args.reuse and await loaded(args):
        log("reusing the loaded database")
        loading = None
    else:
        log(f"loading {args.conversations:,} conversations into {make_url(args.database_url).database}")
        loading = await load(args)
        loading["seconds"] = round(time.perf_counter() - started, 1)
    log("measuring")
    result = await measure(args)
    return {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "loading": loading,
        "days": args.days,
        "conversations": args.conversations,
        **result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=2_000_000)
    parser.add_argument("--customers", type=int, default=300_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--end", type=date.fromisoformat, default=date.today(), help="last day of history")
    parser.add_argument("--timezone", default="Europe/London")
    parser.add_argument("--runs", type=int, default=5, help="calls of each report")
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/cc_bench_reports"
    )
    parser.add_argument("--admin-database", default="test")
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database again")
    parser.add_argument("--json", action="store_true", help="compact JSON on stdout")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, default=str) if args.json else json.dumps(result, indent=2, default=str))
    sys.exit(0)


if __name__ == "__main__":
    main()
