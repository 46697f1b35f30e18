"""Benchmark: ``poll_tracking`` over 10,000 active shipments with the simulated carrier.

Targets (issue 4): the whole poll in under 60 s, and a bounded number of queries per batch (the
same for every batch, whatever its size, apart from one insert per 1,000 new events).

It runs in a throw-away database (``bench_tracking_<name>``, created and dropped here), so it never
touches your data. Shipments are bulk-created as "shipped" 0 to 80 hours ago, to five destinations,
so one poll walks them through every stage to delivery. Two polls are timed: the first stores the
events, the second (same moment) must store none. Each batch is timed and its queries counted.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/tracking_bench.py
    options: --shipments 10000  --batch-size 500  --no-write  --allow-sqlite

From another script: ``from bench.tracking_bench import run; rows = run()`` returns the result rows
(dicts) and, unless ``write=False``, appends a table to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "RESULTS.md"
TARGET_SECONDS = 60.0
DESTINATIONS = ["DE", "US", "JP", "GB", "BR"]


def _setup_django() -> None:
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    import django

    django.setup()


def _seed(count: int, now: datetime) -> None:
    from logistics.models import Shipment, Warehouse

    origin = Warehouse.objects.create(
        code="bench-cn", name="Bench origin", kind=Warehouse.Kind.ORIGIN, country="CN", city="Shenzhen"
    )
    Shipment.objects.bulk_create(
        (
            Shipment(
                warehouse=origin,
                destination_country=DESTINATIONS[i % len(DESTINATIONS)],
                order_number=f"BENCH-{i:06d}",
                carrier="simulated",
                tracking_number=f"BENCH{i:08d}",
                status=Shipment.Status.SHIPPED,
                packed_at=now - timedelta(hours=81),
                shipped_at=now - timedelta(minutes=(i * 37) % (80 * 60)),  # spread over 80 hours
            )
            for i in range(count)
        ),
        batch_size=2000,
    )


def _poll(label: str, now: datetime, batch_size: int | None) -> dict[str, Any]:
    """One ``poll_tracking`` run, with each ``poll_batch`` call timed and its queries counted."""
    from django.db import connection

    from logistics import tracking

    per_batch: list[tuple[int, float]] = []
    original = tracking.poll_batch
    total_queries = 0

    def counting(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal total_queries
        total_queries += 1
        return execute(sql, params, many, context)

    def timed_batch(ids: Sequence[int], **kwargs: Any) -> Any:
        before, started = total_queries, time.perf_counter()
        result = original(ids, **kwargs)
        per_batch.append((total_queries - before, time.perf_counter() - started))
        return result

    tracking.poll_batch = timed_batch  # poll_tracking looks it up at each batch
    try:
        with connection.execute_wrapper(counting):
            started = time.perf_counter()
            result = tracking.poll_tracking(now=now, batch_size=batch_size)
            elapsed = time.perf_counter() - started
    finally:
        tracking.poll_batch = original
    queries = [q for q, _s in per_batch]
    seconds = [s for _q, s in per_batch]
    return {
        "run": label,
        "shipments": result.shipments,
        "events": result.events,
        "failed": result.failed,
        "batches": result.batches,
        "seconds": elapsed,
        "queries_total": total_queries,
        "queries_per_batch": (min(queries), max(queries)) if queries else (0, 0),
        "batch_ms_median": statistics.median(seconds) * 1000 if seconds else 0.0,
        "batch_ms_max": max(seconds) * 1000 if seconds else 0.0,
    }


def run(
    shipments: int = 10_000, batch_size: int | None = None, *, write: bool = True, allow_sqlite: bool = False
) -> list[dict[str, Any]]:
    _setup_django()
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count

    from logistics.models import Shipment

    vendor = connection.vendor
    if vendor != "postgresql" and not allow_sqlite:
        raise SystemExit(
            "The tracking benchmark runs on PostgreSQL: set DATABASE_URL=postgres://... (or --allow-sqlite)"
        )
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"bench_tracking_{Path(str(old_name)).stem}" if vendor == "postgresql" else None
    )
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        now = datetime.now(tz=UTC).replace(microsecond=0)
        started = time.perf_counter()
        _seed(shipments, now)
        seed_seconds = time.perf_counter() - started
        size = batch_size or settings.TRACKING_POLL_BATCH_SIZE
        rows = [_poll("first poll", now, size), _poll("second poll (same moment)", now, size)]
        statuses = dict(Shipment.objects.values_list("status").annotate(n=Count("pk")).order_by())
        server = connection.cursor().connection.info.server_version if vendor == "postgresql" else "sqlite"
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    for row in rows:
        row["ok"] = row["seconds"] < TARGET_SECONDS and row["failed"] == 0
    rows[1]["ok"] = rows[1]["ok"] and rows[1]["events"] == 0
    context = {
        "when": now.strftime("%Y-%m-%d %H:%M UTC"),
        "database": f"{vendor} {server}",
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "shipments": shipments,
        "batch_size": size,
        "seed_seconds": seed_seconds,
        "statuses": statuses,
    }
    table = _table(rows, context)
    print(table)
    if write:
        with RESULTS.open("a", encoding="utf-8") as results:
            results.write(table + "\n")
    return rows


def _table(rows: list[dict[str, Any]], context: dict[str, Any]) -> str:
    lines = [
        f"\n## Tracking poll: {context['shipments']:,} active shipments, simulated carrier ({context['when']})",
        "",
        f"{context['database']}; Python {context['python']}; {context['machine']}; "
        f"batches of {context['batch_size']}; seeding took {context['seed_seconds']:.1f} s. "
        f"Target: under {TARGET_SECONDS:.0f} s, bounded queries per batch.",
        "",
        "| run | shipments | new events | batches | total s | queries (all) | queries / batch (min–max) "
        "| batch ms (median / max) | ok |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        low, high = r["queries_per_batch"]
        lines.append(
            f"| {r['run']} | {r['shipments']:,} | {r['events']:,} | {r['batches']} | {r['seconds']:.2f} "
            f"| {r['queries_total']:,} | {low}–{high} | {r['batch_ms_median']:.0f} / {r['batch_ms_max']:.0f} "
            f"| {'yes' if r['ok'] else 'NO'} |"
        )
    by_status = ", ".join(f"{status} {n:,}" for status, n in sorted(context["statuses"].items()))
    lines += ["", f"After the polls: {by_status}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--no-write", action="store_true", help="Print only; do not append to bench/RESULTS.md.")
    parser.add_argument("--allow-sqlite", action="store_true")
    args = parser.parse_args()
    rows = run(args.shipments, args.batch_size, write=not args.no_write, allow_sqlite=args.allow_sqlite)
    sys.exit(0 if all(r["ok"] for r in rows) else 1)


if __name__ == "__main__":
    main()
