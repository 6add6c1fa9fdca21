"""3. Drain: how fast the worker line empties a backlog of 2,000 queued sends.

For each pool and concurrency: 2,000 `queued` rows (seed and hash as the service makes
them) are written and one `sms.send_code` message per row is published, then the
Procfile's `worker` line starts (on another pool or concurrency where the row says so)
against the sandbox answering in 200 ms, and the run ends when every row is `sent` (or after
a cap, for pools too slow to finish: their rate is taken over the window).

    elapsed      = last sent_at - (first sent_at - provider latency)
    sends/s      = sent / elapsed
    parallelism  = sent x provider latency / elapsed   (64 means 64 calls always in flight)

Worker start-up is outside the window. Variants alternate (A, B, C, ..., A, B, C) and the
table shows medians. gevent runs only when importable: `pip install gevent`, or point
BENCH_GEVENT_PATH at a directory holding it (`pip install --target DIR gevent`).

    .venv/bin/python -m benchmarks.drain
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import time
from typing import Any

from benchmarks import databases, harness, processes, procfile, rabbitmq, reporting

ROWS = 500 if harness.QUICK else 2000
PROVIDER_LATENCY_MS = 200
CAP_SECONDS = 10 if harness.QUICK else 12
# PostgreSQL is shared with other people: a variant starts only while this many connection
# slots are free (a threads pool holds one connection per busy thread).
MIN_FREE_PG_SLOTS = 40
# ...and a run is stopped at once when fewer than this many remain.
PG_SLOTS_FLOOR = 15
TARGET_PARALLELISM = 40


def variants() -> list[tuple[str, str | None, int, dict[str, str]]]:
    """(label, pool, concurrency, extra env); pool None = the Procfile's line unchanged."""
    shipped = procfile.shipped_worker_concurrency()
    found: list[tuple[str, str | None, int, dict[str, str]]] = [
        ("threads 16", "threads", 16, {}),
        ("threads 32", "threads", 32, {}),
        (f"threads {shipped} (Procfile, shipped)", None, shipped, {}),
        ("threads 128", "threads", 128, {}),
        ("prefork 2", "prefork", 2, {}),
        ("prefork 4", "prefork", 4, {}),
    ]
    # The fleet as `make run` starts it: WORKER_PROCESSES (one per core) instances of the
    # line. Their threads are halved here so both fit the shared PostgreSQL's 100
    # connections (every busy thread holds one). What-if (celeryconfig changed for the run
    # only, see procfile.celery_overrides): task events on, as while Flower watches.
    cores = os.cpu_count() or 1
    fleet = f"WORKER_PROCESSES={cores} processes × threads {shipped // cores}"
    events_on = procfile.celery_overrides(worker_send_task_events=True)
    found += [
        (fleet, None, shipped // cores, {"_PROCESSES": str(cores)}),
        (f"what-if: threads {shipped}, task events on (Flower watching)", None, shipped, events_on),
    ]
    # The same shipped line on RabbitMQ (quorum queues): no unacked-message hash to keep in
    # Redis per message. Skipped when no RabbitMQ answers.
    if rabbitmq.available():
        found.append(
            (f"threads {shipped} (Procfile, shipped), RabbitMQ broker", None, shipped,
             {"_BROKER": harness.RABBITMQ_URL})
        )  # fmt: skip
    gevent_env = _gevent_env()
    if gevent_env is not None:
        found.append(("gevent 64", "gevent", 64, gevent_env))
    return found


def _gevent_env() -> dict[str, str] | None:
    extra = os.environ.get("BENCH_GEVENT_PATH", "")
    if extra:
        env = {"PYTHONPATH": f"{harness.ROOT}{os.pathsep}{extra}"}
        probe = subprocess.run(
            [harness.PYTHON, "-c", "import gevent"],
            env=harness.bench_env(**env),
            capture_output=True,
            check=False,
        )
        return env if probe.returncode == 0 else None
    return {} if importlib.util.find_spec("gevent") else None


def run() -> tuple[str, dict[str, Any]]:
    databases.setup_django()
    sandbox = procfile.start_sandbox(latency_ms=PROVIDER_LATENCY_MS, delivery_delay=60)
    try:
        plan = variants()
        results = reporting.alternate(
            {
                label: (lambda p=pool, c=conc, e=env: _drain(sandbox, p, c, e))
                for label, pool, conc, env in plan
            }
        )
    finally:
        processes.stop(sandbox.proc)
        databases.reset_state()
    return _report(results, gevent=any(label.startswith("gevent") for label, *_ in plan))


def _preload(broker: str | None = None) -> None:
    """ROWS queued rows and their send messages, on Redis or on `broker` (RabbitMQ)."""
    from django.utils import timezone

    from verification import codes, dispatch

    databases.reset_state()
    now = timezone.now()
    # Ten minutes: every code outlives the slowest drain.
    materials = [codes.new_material(now=now, ttl=600) for _ in range(ROWS)]
    databases.copy_rows(
        databases.row(phone=databases.random_phone(), **material.row_fields())
        for material in materials
    )
    if broker is not None:
        rabbitmq.publish_sends([(m.id, m.expires_at) for m in materials], broker)
        return
    for material in materials:
        dispatch.publish_send(material.id, expires_at=material.expires_at)


def _drain(
    sandbox: procfile.Sandbox, pool: str | None, concurrency: int, env: dict[str, str]
) -> dict[str, Any]:
    from django.db.models import Count, Max, Min

    from verification.models import SMSVerification

    # The previous worker's sessions take a moment to end; other people's come and go.
    processes.wait_until(
        lambda: databases.pg_free_slots() >= MIN_FREE_PG_SLOTS, timeout=45, interval=1
    )
    free = databases.pg_free_slots()
    if free < MIN_FREE_PG_SLOTS:
        harness.log(f"drain: skipped a run, only {free} PostgreSQL connection slots free")
        return {"sent": float("nan")}
    env = dict(env)
    instances = int(env.pop("_PROCESSES", "1"))
    broker = env.pop("_BROKER", None)
    if broker is not None:
        env["CELERY_BROKER_URL"] = broker
    _preload(broker)
    sandbox.reset()
    sessions_before = databases.pg_sessions()
    workers = [
        procfile.start_worker(
            sandbox.url, pool=pool, concurrency=concurrency, node=f"bench{i}" if i else None, **env
        )
        for i in range(instances)
    ]
    peak_rss, peak_pg, cpu_first, cpu_last, sent_first = 0.0, 0, 0.0, 0.0, 0
    exhausted = False
    try:
        started = time.monotonic()
        deadline = None
        while True:
            sent = SMSVerification.objects.filter(status="sent").count()
            pids = [pid for worker in workers for pid in _pids(worker)]
            peak_rss = max(peak_rss, sum(processes.rss_mib(pid) for pid in pids))
            peak_pg = max(peak_pg, databases.pg_connections())
            cpu_last = max(cpu_last, processes.cpu_seconds(pids))
            if sent >= ROWS or not all(worker.alive() for worker in workers):
                break
            if databases.pg_free_slots() < PG_SLOTS_FLOOR:
                # Other people share this PostgreSQL: never run it out of connections.
                harness.log("drain: stopped a run that was exhausting PostgreSQL connections")
                exhausted = True
                break
            if sent and deadline is None:
                # Start-up (imports, connections) is not drain work: CPU counts from here.
                deadline = time.monotonic() + CAP_SECONDS
                cpu_first, sent_first = cpu_last, sent
            if deadline and time.monotonic() > deadline:
                break
            if time.monotonic() - started > CAP_SECONDS + 60:
                raise RuntimeError(f"worker sent nothing within 60 s:\n{workers[0].tail()}")
            time.sleep(0.2)
    finally:
        for worker in workers:
            processes.stop(worker, grace=5)
    sent_rows = SMSVerification.objects.filter(status="sent").aggregate(
        n=Count("id"), first=Min("sent_at"), last=Max("sent_at")
    )
    latency = PROVIDER_LATENCY_MS / 1000
    elapsed = (sent_rows["last"] - sent_rows["first"]).total_seconds() + latency
    stats = sandbox.stats()
    return {
        "sent": sent_rows["n"],
        "elapsed": elapsed,
        "rate": sent_rows["n"] / elapsed,
        "parallelism": sent_rows["n"] * latency / elapsed,
        "send_calls": stats["send_calls"],
        "connections": stats["connections"],
        "rss_mib": peak_rss,
        "pg_conns": peak_pg,
        "pg_sessions": databases.pg_sessions() - sessions_before,
        "exhausted": float(exhausted),
        "cpu_ms_per_send": 1000 * (cpu_last - cpu_first) / max(1, sent - sent_first),
    }


def _pids(worker: processes.Proc) -> list[int]:
    try:
        return processes.python_pids(worker.pid)
    except Exception:  # noqa: BLE001 - a child may vanish while we look
        return []


def _report(
    results: dict[str, list[dict[str, Any]]], *, gevent: bool
) -> tuple[str, dict[str, Any]]:
    rows, figures = [], {}
    for label, runs in results.items():
        keys = max((r.keys() for r in runs), key=len)
        med = {key: reporting.median(r.get(key, float("nan")) for r in runs) for key in keys}
        if len(med) == 1:
            rows.append([label, "skipped: PostgreSQL connection slots", *["–"] * 8])
            continue
        if med.get("exhausted", 0) > 0:
            label += " — stopped: exhausting PostgreSQL connections"
        figures[label] = med
        rows.append(
            [
                label,
                f"{med['sent']:.0f}/{ROWS}",
                med["elapsed"],
                med["rate"],
                med["parallelism"],
                med["cpu_ms_per_send"],
                med["connections"],
                med["pg_conns"],
                med["pg_sessions"],
                med["rss_mib"],
            ]
        )
    text = reporting.table(
        [
            "pool",
            "sent",
            "elapsed s",
            "sends/s",
            "parallelism",
            "worker CPU ms/send",
            "provider conns opened",
            "peak PG conns",
            "PG sessions opened",
            "peak RSS MiB",
        ],  # fmt: skip
        rows,
        title=(
            f"3. Drain ({ROWS} queued sends, provider latency {PROVIDER_LATENCY_MS} ms; medians "
            f"of {harness.REPS} alternated runs; runs capped at {CAP_SECONDS} s after the "
            "first send)"
        ),
    )
    shipped = next((v for k, v in figures.items() if "shipped" in k), {})
    parallelism = shipped.get("parallelism", float("nan"))
    verdict = "met" if parallelism >= TARGET_PARALLELISM else "missed"
    text += (
        f"\nTarget: parallelism ≥ {TARGET_PARALLELISM} with the shipped line: "
        f"**{parallelism:.0f}** ({verdict})."
    )
    if not gevent:
        text += " gevent: not installed, skipped (see benchmarks/README.md)."
    return text + "\n", figures


def main() -> None:
    with processes.session():
        print(run()[0])


if __name__ == "__main__":
    main()
