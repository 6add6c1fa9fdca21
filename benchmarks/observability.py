"""6. Observability costs: a /metrics scrape at 100,000 rows, the admin statistics page at
1,000,000.

Seeds rows as a month of traffic looks (created over 30 days; 80 % delivered, 8 % failed,
5 % sent, 6 % expired, 1 % a live backlog still queued; four countries), then in
this process, through Django's test client (no HTTP server: the figures are the view's own):

- GET /metrics, 50 times: median and p95; and its three parts apart (the Redis round trip,
  the oldest-unsent queries, the broker's queue depths);
- GET /admin/statistics/ as staff, 7 times: median and min; the two aggregate queries apart,
  with PostgreSQL's plan of the larger one.

It empties the verification table of the database it is given, so it needs its own:
`BENCH_DATABASE_URL` (required) and `REDIS_URL` (a database of its own too).

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/verif_obs \\
    REDIS_URL=redis://127.0.0.1:6379/6 DJANGO_DEBUG=True \\
    flock /tmp/bench.lock .venv/bin/python -m benchmarks.observability
"""

from __future__ import annotations

import os
import random
import statistics as stats
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

SCRAPE_ROWS = int(os.environ.get("BENCH_SCRAPE_ROWS", "100000"))
PAGE_ROWS = int(os.environ.get("BENCH_PAGE_ROWS", "1000000"))
PREFIXES = (("+7999", 0.7), ("+7701", 0.1), ("+38050", 0.1), ("+1202", 0.1))
STATUSES = (
    ("delivered", 0.80),
    ("failed", 0.08),
    ("sent", 0.05),
    ("expired", 0.06),
    ("queued", 0.01),
)


def setup() -> None:
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        sys.exit("BENCH_DATABASE_URL is required (a database of its own: it is emptied)")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(count: int, *, rng: random.Random) -> None:
    from django.utils import timezone

    from verification import codes
    from verification.models import SMSVerification

    now = timezone.now()
    prefixes = [p for p, _ in PREFIXES]
    prefix_weights = [w for _, w in PREFIXES]
    statuses = [s for s, _ in STATUSES]
    status_weights = [w for _, w in STATUSES]
    batch: list[SMSVerification] = []
    for _ in range(count):
        status = rng.choices(statuses, status_weights)[0]
        # Queued rows are a live backlog: the sweeper expires older ones within minutes.
        age = rng.uniform(0, 240) if status == "queued" else rng.uniform(0, 30 * 86400)
        created = now - timedelta(seconds=age)
        reached = status in ("delivered", "failed", "sent")
        batch.append(
            SMSVerification(
                phone=f"{rng.choices(prefixes, prefix_weights)[0]}{rng.randrange(10**7):07d}",
                status=status,
                request_id=f"r{rng.getrandbits(64):x}" if reached else "",
                sent_at=created if reached else None,
                is_used=status == "delivered" and rng.random() < 0.65,
                **codes.new_material(now=created).row_fields(),
            )
        )
        if len(batch) == 10_000:
            _copy(batch)
            batch = []
    _copy(batch)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE verification_smsverification")


def _copy(rows: list[Any]) -> None:
    """COPY instead of INSERT (seeding a million rows: minutes -> seconds); every concrete
    field, so fields added later with a default are filled too."""
    from django.db import connection

    if not rows:
        return
    model = type(rows[0])
    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {table} ({columns}) FROM STDIN"  # noqa: S608 - names from the model
        ) as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    field.get_db_prep_save(getattr(row, field.attname), connection)
                    for field in fields
                ]
            )


def timed(function: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def ms(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{stats.median(ordered):.1f} ms (p95 {p95:.1f}, min {ordered[0]:.1f})"


def measure_scrape(rows: int) -> list[str]:
    from django.test import Client

    from verification import metrics, metrics_collector

    for outcome in ("accepted", "rate_limited", "invalid_phone"):
        metrics.send_request(outcome)
    with metrics.provider_call("send"):
        pass
    client = Client(HTTP_HOST="localhost")
    assert client.get("/metrics").status_code == 200
    size = len(client.get("/metrics").content)
    parts = (
        (f"GET /metrics at {rows:,} rows ({size:,} bytes)", lambda: client.get("/metrics")),
        ("… Redis: every counter and histogram, one round trip", metrics_collector._read_redis),
        ("… oldest unsent code (one partial-index probe)", metrics_collector.oldest_unsent_age),
        ("… broker queue depths (Redis: 12 LLEN, one round trip)", metrics_collector.queue_depths),
    )
    return [f"| {label} | {ms(timed(function, 50))} |" for label, function in parts]


def measure_page(rows: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from verification import statistics, statistics_rollup
    from verification.models import HourlyStatistics

    user, _ = get_user_model().objects.get_or_create(
        username="bench-staff", defaults={"is_staff": True}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    def page() -> None:
        assert client.get("/admin/statistics/").status_code == 200

    # Before the first rollup every hour comes from the verifications themselves.
    HourlyStatistics.objects.all().delete()
    page()
    without_rollup = timed(page, 3)
    # The rollup catches up on a month, ROLLUP_MAX_HOURS hours per run.
    runs: list[float] = []
    while True:
        started = time.perf_counter()
        hours = statistics_rollup.rollup()
        if not hours:
            break
        runs.append((time.perf_counter() - started) * 1000)
    page()
    with_rollup = timed(page, 7)
    lines = [
        f"| GET /admin/statistics/ at {rows:,} rows, as shipped (rollup) | {ms(with_rollup)} |",
        f"| … the same before the first rollup (all from the rows) | {ms(without_rollup)} |",
        f"| … statistics() alone, as shipped | {ms(timed(statistics.statistics, 7))} |",
        f"| rollup run ({statistics_rollup.ROLLUP_MAX_HOURS} h), catching up a month "
        f"({len(runs)} runs) | {ms(runs)} |",
    ]
    since = timezone.now() - timedelta(days=statistics.DAYS)
    query = statistics.grouped_queryset(statistics.TruncDay("created_at"), since)
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    return lines + ["", "Plan of a month grouped straight from the rows:", "```", *plan, "```"]


def main() -> None:
    setup()
    from django.db import connection

    from verification.models import HourlyStatistics, SMSVerification

    rng = random.Random(6)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {SMSVerification._meta.db_table}")  # noqa: S608
    HourlyStatistics.objects.all().delete()
    print("| measured | time |\n|---|---|")
    seed(SCRAPE_ROWS, rng=rng)
    for line in measure_scrape(SCRAPE_ROWS):
        print(line, flush=True)
    seed(PAGE_ROWS - SCRAPE_ROWS, rng=rng)
    for line in measure_scrape(PAGE_ROWS):
        print(line, flush=True)
    for line in measure_page(PAGE_ROWS):
        print(line, flush=True)


if __name__ == "__main__":
    main()
