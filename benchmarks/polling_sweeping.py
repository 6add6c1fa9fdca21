"""4. Polling and sweeping at scale: 100,000 rows.

Polling: 100,000 `sent` rows whose request ids a seeded sandbox knows (half delivered, half
still pending; provider latency 20 ms). `tracking.poll_batch()` runs in this process at
batch sizes 10, 100 (the shipped size) and 1,000, counting SQL queries
(CaptureQueriesContext) and provider calls (the sandbox's counters) per batch. Then the
shipped worker line runs one `status.poll_deliveries` (20 batches) and its memory is read.

Sweeping: 100,000 `queued` rows past their expiry and 100,000 rows older than the retention
period; `housekeeping.expire_unsent()` / `purge_old()` run in this process until nothing is
left (time per 10,000 rows, queries per call); then the same again through the worker line's
`maintenance.sweep` (which re-enqueues itself until done), with the worker's peak RSS.

    .venv/bin/python -m benchmarks.polling_sweeping
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from benchmarks import databases, harness, processes, procfile, reporting

ROWS = 20_000 if harness.QUICK else 100_000
PROVIDER_LATENCY_MS = 20


def run() -> tuple[str, dict[str, Any]]:
    databases.setup_django()
    databases.reset_state()
    ids_path = harness.WORK_DIR / "request_ids.txt"
    port = processes.free_port()
    sandbox_proc = processes.start(
        "seeded-sandbox",
        [
            harness.PYTHON,
            "-m",
            "benchmarks.seeded_sandbox",
            "--port",
            str(port),
            "--count",
            str(ROWS),
            "--ids",
            str(ids_path),
            "--latency-ms",
            str(PROVIDER_LATENCY_MS),
            "--user",
            harness.SANDBOX_USER,
            "--password",
            harness.SANDBOX_PASSWORD,
        ],  # fmt: skip
        harness.bench_env(),
    )
    sandbox = procfile.Sandbox(sandbox_proc, f"http://127.0.0.1:{port}")
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {}
    try:
        if not processes.wait_until(lambda: "seeded" in sandbox_proc.tail(5), timeout=120):
            raise RuntimeError(f"seeded sandbox did not start:\n{sandbox_proc.tail()}")
        procfile.point_gateway_at(sandbox.url)
        _load_sent_rows(ids_path.read_text().split())
        _polling(sandbox, rows, figures)
        _claim_with_index(rows, figures)
        _poll_task(sandbox, rows, figures)
        _sweeping(rows, figures)
        _sweep_task(sandbox, rows, figures)
    finally:
        processes.stop(sandbox_proc)
        databases.reset_state()
    text = reporting.table(
        ["measure", "value", "target"],
        rows,
        title=(
            f"4. Polling and sweeping at scale ({ROWS:,} rows; provider latency "
            f"{PROVIDER_LATENCY_MS} ms for status calls)"
        ),
    )
    return text, figures


# --- polling -------------------------------------------------------------------------
def _load_sent_rows(request_ids: list[str]) -> None:
    from django.utils import timezone

    now = timezone.now()

    def values() -> Any:
        for index, request_id in enumerate(request_ids):
            sent_at = now - timedelta(seconds=60 + index % 1200)  # inside the poll horizon
            yield databases.row(
                phone=f"+7999{index:07d}",
                status="sent",
                request_id=request_id,
                created_at=sent_at,
                expires_at=sent_at + timedelta(minutes=5),
                sent_at=sent_at,
            )

    databases.copy_rows(values())


def _polling(sandbox: procfile.Sandbox, rows: list[list[Any]], figures: dict[str, Any]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from verification import tracking

    for batch_size, batches in ((10, 10), (100, 10), (1000, 3)):
        per_batch = []
        for _ in range(batches):
            calls_before = sandbox.stats()["status_calls"]
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                counts = tracking.poll_batch(batch_size=batch_size)
                elapsed = time.perf_counter() - started
            per_batch.append(
                {
                    "polled": counts.polled,
                    "calls": sandbox.stats()["status_calls"] - calls_before,
                    "queries": len(queries.captured_queries),
                    "claim_ms": _claim_ms(queries.captured_queries),
                    "ms": elapsed * 1000,
                }
            )
        polled = sum(b["polled"] for b in per_batch)
        calls = sum(b["calls"] for b in per_batch)
        queries = sorted({b["queries"] for b in per_batch})
        figures[f"poll_batch_{batch_size}"] = {
            "calls_per_row": calls / max(1, polled),
            "queries": queries,
            "ms": reporting.median(b["ms"] for b in per_batch),
        }
        shipped = " (shipped size)" if batch_size == tracking.POLL_BATCH_SIZE else ""
        rows += [
            [
                f"poll_batch({batch_size}){shipped}: provider calls per polled row",
                f"{calls / max(1, polled):.2f} ({calls} calls / {polled} rows)",
                "≤ 1",
            ],
            [
                f"poll_batch({batch_size}): SQL queries per batch",
                " / ".join(str(q) for q in queries),
                "O(1)",
            ],
            [
                f"poll_batch({batch_size}): ms per batch (of which claim query)",
                f"{reporting.median(b['ms'] for b in per_batch):.0f} "
                f"({reporting.median(b['claim_ms'] for b in per_batch):.1f})",
                "",
            ],
        ]


def _poll_index() -> tuple[str, str] | None:
    """(name, CREATE statement) of the model's partial index for the poller's claim."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
            " AND indexdef LIKE %s AND indexdef LIKE %s",
            ["verification_smsverification", "%sent_at%", "%WHERE%"],
        )
        found = cursor.fetchone()
    return (found[0], found[1]) if found else None


def _claim_with_index(rows: list[list[Any]], figures: dict[str, Any]) -> None:
    """What the poller's partial index buys: the claim without it (dropped on this
    benchmark's own database for five batches, then created again)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from verification import tracking

    index = _poll_index()
    if index is None:
        rows.append(["claim without a partial index on sent_at", "no such index shipped", ""])
        return
    name, create = index
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX "{name}"')
    try:
        claims = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                tracking.poll_batch()
            claims.append(_claim_ms(queries.captured_queries))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(create)
            cursor.execute("ANALYZE verification_smsverification")
    figures["claim_ms_without_index"] = reporting.median(claims)
    rows.append(
        [
            f"what-if: claim query ms without the partial index `{name}`",
            f"{reporting.median(claims):.1f}",
            "",
        ]
    )


def _claim_ms(captured: list[dict[str, Any]]) -> float:
    """Time of the SELECT ... FOR UPDATE SKIP LOCKED that picks the batch."""
    return sum(float(q["time"]) * 1000 for q in captured if "FOR UPDATE" in q["sql"])


def _poll_task(sandbox: procfile.Sandbox, rows: list[list[Any]], figures: dict[str, Any]) -> None:
    from verification.models import SMSVerification
    from workers.polling import POLL_MAX_BATCHES, poll_delivery_statuses

    checked = SMSVerification.objects.filter(status_checked_at__isnull=False)
    worker = procfile.start_worker(sandbox.url)
    try:
        pid = _wait_worker_ready(worker)
        baseline = processes.rss_mib(pid)
        before, calls_before = checked.count(), sandbox.stats()["status_calls"]
        started = time.monotonic()
        poll_delivery_statuses.delay()
        # The task logs its totals at INFO when it ends (the Procfile's default level).
        processes.wait_until(lambda: "delivery poll" in worker.tail(20), timeout=120, interval=0.1)
        elapsed = time.monotonic() - started
        done = checked.count() - before
        calls = sandbox.stats()["status_calls"] - calls_before
        peak = processes.rss_mib(pid, "VmHWM")
    finally:
        processes.stop(worker, grace=5)
    figures["poll_task"] = {"rows": done, "seconds": elapsed, "rss": baseline, "peak": peak}
    rows += [
        [
            f"worker `status.poll_deliveries` ({POLL_MAX_BATCHES} batches): rows, s, calls",
            f"{done} rows in {elapsed:.1f} s, {calls} provider calls",
            "",
        ],
        [
            "worker RSS after start-up → peak while polling (MiB)",
            f"{baseline:.0f} → {peak:.0f}",
            "",
        ],
    ]


def _wait_worker_ready(worker: processes.Proc) -> int:
    if not processes.wait_until(lambda: "ready." in worker.tail(200), timeout=60):
        raise RuntimeError(f"worker did not start:\n{worker.tail()}")
    return processes.python_pids(worker.pid)[0]


# --- sweeping ------------------------------------------------------------------------
def _load_sweepable() -> None:
    from django.utils import timezone

    now = timezone.now()
    old = now - timedelta(days=40)

    def values() -> Any:
        for index in range(ROWS):
            created = now - timedelta(minutes=10)
            yield databases.row(
                id=uuid.uuid4(), phone=f"+7998{index:07d}", status="queued",
                created_at=created, expires_at=created + timedelta(minutes=5),
            )  # fmt: skip
            yield databases.row(
                id=uuid.uuid4(), phone=f"+7997{index:07d}", status="delivered",
                created_at=old, expires_at=old + timedelta(minutes=5), sent_at=old,
            )  # fmt: skip

    databases.copy_rows(values())


def _sweeping(rows: list[list[Any]], figures: dict[str, Any]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from verification import housekeeping

    databases.reset_state()
    _load_sweepable()
    for name, sweep in (
        ("expire_unsent", housekeeping.expire_unsent),
        ("purge_old", housekeeping.purge_old),
    ):
        total, calls, started = 0, 0, time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            while True:
                done = sweep()
                calls += 1
                total += done
                if not done:
                    break
        elapsed = time.perf_counter() - started
        per_10k = elapsed * 1000 / max(1, total) * 10_000
        figures[name] = {"rows": total, "ms_per_10k": per_10k}
        rows.append(
            [
                f"`housekeeping.{name}()` (batches of {housekeeping.SWEEP_BATCH_SIZE:,}): "
                "ms per 10,000 rows; queries per call",
                f"{per_10k:.0f} ms ({total:,} rows in {elapsed:.1f} s; "
                f"{len(queries.captured_queries) / calls:.1f} queries/call)",
                "",
            ]
        )


def _sweep_task(sandbox: procfile.Sandbox, rows: list[list[Any]], figures: dict[str, Any]) -> None:
    from django.utils import timezone

    from verification.models import SMSVerification
    from workers.housekeeping import sweep

    databases.reset_state()
    _load_sweepable()
    cutoff = timezone.now() - timedelta(days=30)
    left = SMSVerification.objects.filter(status="queued") | SMSVerification.objects.filter(
        created_at__lt=cutoff
    )
    worker = procfile.start_worker(sandbox.url)
    try:
        pid = _wait_worker_ready(worker)
        baseline = processes.rss_mib(pid)
        started = time.monotonic()
        sweep.delay()
        processes.wait_until(lambda: not left.exists(), timeout=300, interval=0.2)
        elapsed = time.monotonic() - started
        peak = processes.rss_mib(pid, "VmHWM")
    finally:
        processes.stop(worker, grace=5)
    swept = 2 * ROWS
    figures["sweep_task"] = {"seconds": elapsed, "rss": baseline, "peak": peak}
    rows += [
        [
            "worker `maintenance.sweep` (re-enqueues itself): expire + purge, ms per 10,000",
            f"{elapsed * 1000 / swept * 10_000:.0f} ms ({swept:,} rows in {elapsed:.1f} s)",
            "",
        ],
        [
            "worker RSS after start-up → peak while sweeping (MiB)",
            f"{baseline:.0f} → {peak:.0f}",
            "",
        ],
    ]


def main() -> None:
    with processes.session():
        print(run()[0])


if __name__ == "__main__":
    main()
