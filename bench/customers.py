"""Customer record at scale: identity lookup, customer_360 and fuzzy name lookup against brute force.

    python -m bench.customers [--customers 1000000] [--queries 500] [--reuse] [--json]

Loads N synthetic customers into PostgreSQL with COPY (names drawn Zipf-like from generated pools, so
common names have many duplicates), then times exact identity lookup, customer_360, fuzzy_name_search
with misspelt names, and rapidfuzz.process.extractOne over every name held in a list (the brute-force
baseline). Results and how to read them: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from rapidfuzz import fuzz, process, utils
from sqlalchemy.engine import make_url

from contact_center.customers import names, records, search
from contact_center.customers.context import CustomerContext
from contact_center.customers.view360 import customer_360
from contact_center.db.engine import create_engine, session_factory
from contact_center.db.migrate import upgrade

REAL_FIRST = """James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Maria Jose Wei Priya Mohammed Fatima Ana Juan Daniel Nancy
Matthew Lisa Anthony Betty Mark Sandra Paul Ashley Steven Emily Andrew Olivia Kevin Sophia Brian Emma Carlos
Luis Ahmed Yuki Chen Aisha Raj Anita Ivan Olga Pierre Marie""".split()
REAL_LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark
Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker
Hall Rivera Campbell Mitchell Carter Roberts Patel Kim Chen Wang Zhang Singh Kumar Mueller Schmidt Rossi Silva
Santos Ivanov Kowalski Novak Cohen Murphy Kelly Sullivan Walsh Okafor Mensah Tanaka Suzuki Sato Park Choi Khan
Ali Hussain""".split()
ONSETS = "b c d f g h j k l m n p r s t v w z br ch cl dr fr gr kr pl sh st th tr".split()
VOWELS = "a e i o u a e i o ai ea ie ou".split()
FIRST_ENDS = ("", "", "a", "n", "o", "el", "ie", "ia", "an", "in", "y", "us")
LAST_ENDS = ("", "son", "ton", "ez", "ski", "berg", "ova", "man", "ley", "er", "ford", "ini", "ard", "wick")
AREA_CODES = (201, 212, 213, 305, 312, 404, 415, 503, 617, 702, 713, 718, 801, 818, 917, 972)
DOMAINS = ("example.com", "mail.example.org", "example.net", "shop.example")
PRODUCTS = [(f"SKU-{i:04d}", f"Product {i}", 500 + 97 * i % 50_000) for i in range(400)]
CHANNELS, TIERS = ("voice", "sms", "email", "chat"), ("bronze", "silver", "gold", "platinum")
TICKET_STATES = ("new", "open", "pending", "escalated", "solved")
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CHUNK = 20_000
MARKER = "cc bench: {} customers loaded"  # the comment on a fully loaded database, what --reuse looks for
COLUMNS = {table: columns.split() for table, columns in {  # the columns COPY fills, in tuple order
    "customers": "id display_name given_name family_name language organisation lifecycle_stage attributes "
                 "value_score value_tier created_at updated_at",
    "customer_identities": "id customer_id kind value display_value verified created_at",
    "customer_search_keys": "key customer_id",
    "orders": "id customer_id order_number ordered_at status currency total_cents",
    "order_items": "id order_id sku product_name quantity unit_price_cents serial_number warranty_ends_on",
    "conversations": "id customer_id channel status subject snippet started_at last_activity_at",
    "tickets": "id customer_id subject category status priority created_at updated_at",
    "customer_notes": "id customer_id body created_at",
}.items()}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def name_pool(rng: random.Random, real: list[str], size: int, ends: tuple[str, ...]) -> list[str]:
    """Real names first (they become the most common), then invented ones made of syllables."""
    pool, seen = list(real), set(real)
    while len(pool) < size:
        word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(rng.randint(1, 3)))
        word = (word + rng.choice(ends)).capitalize()
        if 3 <= len(word) <= 12 and word not in seen:
            seen.add(word)
            pool.append(word)
    return pool


def zipf(size: int, offset: int, exponent: float) -> list[float]:
    """Cumulative weights: the name of rank r (1..size) is drawn with weight 1/(r + offset)^exponent."""
    return list(itertools.accumulate(1 / (rank + offset) ** exponent for rank in range(1, size + 1)))


def phone_of(customer_id: int) -> str:
    """A distinct, random-looking US number per customer (a bijection of the id)."""
    k = customer_id * 1_000_003 % (len(AREA_CODES) * 800 * 10_000)
    rest = k // len(AREA_CODES)
    return f"+1{AREA_CODES[k % len(AREA_CODES)]}{200 + rest // 10_000}{rest % 10_000:04d}"


class Generator:
    """Deterministic rows for consecutive chunks of customers; keeps the running ids of child rows."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.firsts = name_pool(self.rng, REAL_FIRST, 2_500, FIRST_ENDS)
        self.lasts = name_pool(self.rng, REAL_LAST, 12_000, LAST_ENDS)
        self.first_weights, self.last_weights = zipf(len(self.firsts), 5, 1.0), zipf(len(self.lasts), 10, 0.9)
        self.ids = dict.fromkeys(("order", "item", "conversation", "ticket", "note"), 0)
        self.rows: dict[str, list[tuple[Any, ...]]] = {}

    def next_id(self, kind: str) -> int:
        self.ids[kind] += 1
        return self.ids[kind]

    def chunk(self, start: int, end: int) -> dict[str, list[tuple[Any, ...]]]:
        rng, rows = self.rng, {table: [] for table in COLUMNS}
        self.rows = rows
        firsts = rng.choices(self.firsts, cum_weights=self.first_weights, k=end - start)
        lasts = rng.choices(self.lasts, cum_weights=self.last_weights, k=end - start)
        for cid, first, last in zip(range(start, end), firsts, lasts, strict=True):
            name, created = f"{first} {last}", NOW - timedelta(days=rng.uniform(0, 3650))
            score = round(rng.uniform(0, 100), 2)
            rows["customers"].append((cid, name, first, last, "en", None, "customer", "{}", score,
                                      TIERS[min(int(score // 25), 3)], created, created))
            phone, email = phone_of(cid), f"{first}.{last}.{cid}@{rng.choice(DOMAINS)}".lower()
            rows["customer_identities"] += [(2 * cid - 1, cid, "phone", phone, phone, True, created),
                                            (2 * cid, cid, "email", email, email, False, created)]
            rows["customer_search_keys"] += [(key, cid) for key in names.search_keys(name)]
            for _ in range(rng.choices(range(6), weights=(20, 20, 20, 15, 15, 10))[0]):  # 2.15 on average
                self.order(cid, created)
            for _ in range(rng.randint(1, 3) if rng.random() < 0.3 else 0):
                at = NOW - timedelta(days=rng.uniform(0, 700))
                ended = at + timedelta(minutes=rng.uniform(1, 90))
                channel = rng.choice(CHANNELS)
                rows["conversations"].append((self.next_id("conversation"), cid, channel, "closed",
                                              "Question about my order", "Hello, I wanted...", at, ended))
            if rng.random() < 0.1:
                at = NOW - timedelta(days=rng.uniform(0, 400))
                rows["tickets"].append((self.next_id("ticket"), cid, "Device stopped working", "complaint",
                                        rng.choice(TICKET_STATES), "normal", at, at))
            if rng.random() < 0.1:
                rows["customer_notes"].append((self.next_id("note"), cid, "Prefers email.", created))
        return rows

    def order(self, cid: int, created: datetime) -> None:
        rng, order_id = self.rng, self.next_id("order")
        ordered = created + timedelta(days=rng.uniform(0, max(1.0, (NOW - created).days)))
        items = []
        for _ in range(rng.randint(1, 3)):
            sku, product, price = rng.choice(PRODUCTS)
            serial = f"SN{rng.getrandbits(40):012X}" if rng.random() < 0.4 else None
            items.append((self.next_id("item"), order_id, sku, product, rng.randint(1, 2), price, serial,
                          (ordered + timedelta(days=730)).date() if serial else None))
        self.rows["order_items"] += items
        self.rows["orders"].append((order_id, cid, f"ORD-{order_id:010d}", ordered, "completed", "USD",
                                    sum(i[4] * i[5] for i in items)))


async def defer_constraints(conn: asyncpg.Connection) -> list[str]:
    """Drop the loaded tables' keys, indexes and foreign keys (building them once at the end is far faster
    than keeping them up to date row by row); return the SQL that puts them back."""
    tables = list(COLUMNS)
    constraints = await conn.fetch(
        "SELECT conrelid::regclass::text AS tbl, conname, contype::text, pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE contype IN ('p', 'u', 'f') AND (conrelid::regclass::text = ANY($1) "
        "OR (contype = 'f' AND confrelid::regclass::text = ANY($1)))", tables)
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1) "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)", tables)
    foreign = [c for c in constraints if c["contype"] == "f"]
    keys = [c for c in constraints if c["contype"] != "f"]
    for c in foreign + keys:
        await conn.execute(f'ALTER TABLE {c["tbl"]} DROP CONSTRAINT "{c["conname"]}"')
    for i in indexes:
        await conn.execute(f'DROP INDEX "{i["indexname"]}"')
    add = 'ALTER TABLE {tbl} ADD CONSTRAINT "{conname}" {def}'
    restore = [add.format(**c) for c in keys] + [i["indexdef"] for i in indexes]
    return restore + [add.format(**c) for c in foreign]


def dsns(url: str) -> tuple[str, str, str]:
    """(asyncpg DSN of the bench database, DSN of the maintenance database, database name)."""
    parsed = make_url(url).set(drivername="postgresql")
    return (parsed.render_as_string(hide_password=False),
            parsed.set(database="postgres").render_as_string(hide_password=False), parsed.database or "")


async def load(url: str, n: int, seed: int) -> tuple[float, dict[str, int]]:
    """Recreate and migrate the database, COPY N customers in, restore keys, VACUUM ANALYZE."""
    dsn, admin_dsn, db_name = dsns(url)
    started = time.perf_counter()
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    conn = await asyncpg.connect(dsn)
    await conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '512MB'; "
                       "SET max_parallel_maintenance_workers = 0; SET max_parallel_workers_per_gather = 0")
    restore, generator, totals = await defer_constraints(conn), Generator(seed), dict.fromkeys(COLUMNS, 0)
    for start in range(1, n + 1, CHUNK):
        end = min(n + 1, start + CHUNK)
        for table, rows in generator.chunk(start, end).items():
            await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
            totals[table] += len(rows)
        log(f"loading {100 * (end - 1) / n:5.1f}%  {end - 1:,}/{n:,} customers  "
            f"{time.perf_counter() - started:5.0f} s")
    for number, sql in enumerate(restore, 1):
        log(f"keys and indexes {number}/{len(restore)}: {sql[:80]}")
        await conn.execute(sql)
    for table in COLUMNS:
        if table != "customer_search_keys":
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) "
                               f"FROM {table}")
        log(f"vacuum analyze {table}")
        await conn.execute(f"VACUUM ANALYZE {table}")
    await conn.close()
    await admin.execute(f"COMMENT ON DATABASE \"{db_name}\" IS '{MARKER.format(n)}'")
    await admin.close()
    return time.perf_counter() - started, totals


def misspell(rng: random.Random, word: str) -> str:
    """One random edit that changes the word: insert, substitute, delete or transpose."""
    word = word.lower()
    while True:
        i, c = rng.randrange(len(word)), rng.choice("abcdefghijklmnopqrstuvwxyz")
        typo = rng.choice([word[:i] + c + word[i:], word[:i] + c + word[i + 1:],
                           word[:i] + word[i + 1:] if len(word) > 3 else word,
                           word[:i] + word[i + 1:i + 2] + word[i] + word[i + 2:]])
        if typo != word:
            return typo.capitalize()


def typo_name(rng: random.Random, name: str) -> str:
    """One edit in the first name (40%), in the last name (40%), or one in each (20%)."""
    first, last = name.split(" ", 1)
    which = rng.random()
    return (f"{misspell(rng, first) if which < 0.6 else first} "
            f"{misspell(rng, last) if which < 0.2 or which >= 0.6 else last}")


def pct(samples: list[float]) -> dict[str, Any]:  # p50 and p99 in ms
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49], 2), "p99_ms": round(cuts[98], 2), "queries": len(samples)}


async def timed(fn: Any, args: list[Any], warm: int) -> tuple[list[float], list[Any]]:
    """Run fn on the first `warm` args untimed, then time each remaining call in ms."""
    for arg in args[:warm]:
        await fn(arg)
    times, results = [], []
    for arg in args[warm:]:
        began = time.perf_counter()
        results.append(await fn(arg))
        times.append((time.perf_counter() - began) * 1000)
    return times, results


async def measure(url: str, queries: int, baseline_queries: int, seed: int, warm: int) -> dict[str, Any]:
    rng, ctx = random.Random(seed + 1), CustomerContext()
    conn = await asyncpg.connect(dsns(url)[0])
    rows = await conn.fetch("SELECT id, display_name FROM customers ORDER BY id")
    ids, all_names = [r["id"] for r in rows], [r["display_name"] for r in rows]
    del rows
    gc.collect()
    gc.freeze()  # the million names held for the baseline are not scanned by every garbage collection
    picked = rng.sample(range(len(ids)), warm + queries)
    idents = {(r["customer_id"], r["kind"]): r["value"] for r in await conn.fetch(
        "SELECT customer_id, kind, value FROM customer_identities WHERE customer_id = ANY($1)",
        [ids[i] for i in picked])}
    await conn.close()
    engine = create_engine(url)
    sessions = session_factory(engine)

    def identity_query(i: int) -> tuple[int, str, str]:
        """A phone written the national way, "(415) 555-0100", or an email in mixed case."""
        cid = ids[i]
        if rng.random() < 0.5:
            e164 = idents[(cid, "phone")]
            return cid, "phone", f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
        return cid, "email", "".join(c.upper() if rng.random() < 0.5 else c for c in idents[(cid, "email")])

    def in_session(call: Any) -> Any:
        async def run(arg: Any) -> Any:
            async with sessions() as db:
                return await call(db, arg)
        return run

    log("measuring exact identity lookup")
    id_queries = [identity_query(i) for i in picked]
    id_times, found = await timed(
        in_session(lambda db, q: records.find_by_identity(db, ctx, q[1], q[2])), id_queries, warm)
    log("measuring customer_360")
    view = in_session(lambda db, cid: customer_360(db, ctx, cid))
    view_times, _ = await timed(view, [ids[i] for i in picked], warm)
    log("measuring fuzzy name lookup")
    intended = [(ids[i], all_names[i]) for i in picked]
    typos = [typo_name(rng, name) for _, name in intended]
    fuzzy_times, candidates = await timed(
        in_session(lambda db, q: search.fuzzy_name_search(db, q, limit=5)), typos, warm)
    fuzzy_hits = [any(c.customer_id == cid or c.display_name == name for c in got)
                  for (cid, name), got in zip(intended[warm:], candidates, strict=True)]
    await engine.dispose()
    base_times, base_hits = [], []
    pairs = list(zip(typos[warm:], intended[warm:], strict=True))[:baseline_queries]
    for n, (typo, (cid, name)) in enumerate(pairs):
        log(f"brute force over {len(all_names):,} names: query {n + 1}/{baseline_queries}")
        began = time.perf_counter()
        process.extractOne(typo, all_names, scorer=fuzz.WRatio, processor=utils.default_process)
        base_times.append((time.perf_counter() - began) * 1000)
        top5 = process.extract(typo, all_names, scorer=fuzz.WRatio, processor=utils.default_process, limit=5)
        base_hits.append(any(choice == name or ids[index] == cid for choice, _, index in top5))
    fuzzy_stats, base_stats = pct(fuzzy_times), pct(base_times)
    return {
        "customers": len(ids),
        "identity_lookup": {**pct(id_times), "found": sum(
            r is not None and r.id == q[0] for q, r in zip(id_queries[warm:], found, strict=True)) / queries},
        "customer_360": pct(view_times),
        "fuzzy_lookup": {**fuzzy_stats, "recall_top5": sum(fuzzy_hits) / queries,
                         "recall_top5_baseline_queries": sum(fuzzy_hits[:len(base_hits)]) / len(base_hits)},
        "baseline_extractone": {**base_stats, "recall_top5": sum(base_hits) / len(base_hits)},
        "speedup_p50": round(base_stats["p50_ms"] / fuzzy_stats["p50_ms"], 1),
        "recall_rule": "hit when a top-5 candidate has the intended customer id or exactly its display_name",
    }


def machine() -> dict[str, Any]:
    with open("/proc/cpuinfo") as cpu, open("/proc/meminfo") as mem:
        model = next((line.split(":", 1)[1].strip() for line in cpu if line.startswith("model name")), "?")
        ram_kb = int(next(line.split()[1] for line in mem if line.startswith("MemTotal")))
    return {"cpu": model, "cores": os.cpu_count(), "ram_gb": round(ram_kb / 2**20, 1)}


def table(result: dict[str, Any]) -> str:
    fz, base, env = result["fuzzy_lookup"], result["baseline_extractone"], result["environment"]
    rows = [("exact identity lookup", "identity_lookup", f"found {result['identity_lookup']['found']:.3f}"),
            ("customer_360", "customer_360", ""),
            ("fuzzy_name_search (misspelt)", "fuzzy_lookup", f"{fz['recall_top5']:.3f} "
             f"({fz['recall_top5_baseline_queries']:.3f} on the baseline's queries)"),
            ("rapidfuzz extractOne, all names", "baseline_extractone", f"{base['recall_top5']:.3f}")]
    return "\n".join([
        f"customers {result['customers']:,}; load {result['load_seconds'] or 'reused'} s; "
        f"{env['cores']} x {env['cpu']}, {env['ram_gb']} GB, PostgreSQL {env['postgresql']}",
        f"{'operation':34} {'queries':>7} {'p50 ms':>9} {'p99 ms':>9}  top-5 recall",
        *[f"{label:34} {result[k]['queries']:>7} {result[k]['p50_ms']:>9.2f} {result[k]['p99_ms']:>9.2f}"
          f"  {extra}" for label, k, extra in rows],
        f"speed-up (baseline p50 / fuzzy p50): {result['speedup_p50']}x (goal 30x); "
        f"customer_360 p99 {result['customer_360']['p99_ms']} ms (limit 20 ms)",
        f"recall rule: {result['recall_rule']}"])


async def loaded_marker(url: str) -> str | None:
    _, admin_dsn, db_name = dsns(url)
    admin = await asyncpg.connect(admin_dsn)
    marked = await admin.fetchval("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                  "WHERE datname = $1", db_name)
    await admin.close()
    return marked


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--baseline-queries", type=int, default=50, help="brute force is slow: fewer queries")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/cc_bench")
    parser.add_argument("--reuse", action="store_true", help="skip loading if the database holds N customers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    load_seconds, rows = None, None
    if not args.reuse or await loaded_marker(args.database_url) != MARKER.format(args.customers):
        seconds, rows = await load(args.database_url, args.customers, args.seed)
        load_seconds = round(seconds, 1)
        log(f"loaded {args.customers:,} customers in {load_seconds} s: {rows}")
    else:
        engine = create_engine(args.database_url)
        await upgrade(engine)  # a reused database gets the migrations added since it was loaded
        await engine.dispose()
    result = await measure(args.database_url, args.queries, min(args.baseline_queries, args.queries),
                           args.seed, args.warmup)
    conn = await asyncpg.connect(dsns(args.database_url)[0])
    result.update(load_seconds=load_seconds, loaded_rows=rows, environment={
        **machine(), "postgresql": await conn.fetchval("SHOW server_version"),
        "shared_buffers": await conn.fetchval("SHOW shared_buffers")})
    await conn.close()
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    asyncio.run(main())
