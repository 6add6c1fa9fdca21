"""Profile the worker line while it drains a backlog, with py-spy (not part of run_all).

Pre-loads the drain benchmark's queued sends, starts the Procfile `worker` line (or another
pool/concurrency), records it with `py-spy record` until the backlog is sent, and prints
the functions holding the most samples (see profile_web.py for the format).

    .venv/bin/pip install py-spy
    .venv/bin/python -m benchmarks.profile_worker [--pool threads] [--concurrency 64]
        [--rows 2000] [--idle | --gil] [--out /tmp/worker.txt] [--env NAME=VALUE ...]
        [--rabbitmq]

`--rabbitmq`: the backlog and the worker on RabbitMQ (BENCH_RABBITMQ_URL) instead of Redis.

`--gil` samples only the thread holding the GIL: where the worker's Python CPU goes (without
it, threads blocked in a socket call count too, and I/O waits dominate). It also prints the
send's breakdown: the sampled time per send of each step (BREAKDOWN), the figures behind
the README's table of where a send's CPU goes. py-spy's sampling slows the worker, and
system CPU is not sampled: the shares are the useful part.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks import databases, drain, harness, processes, procfile, rabbitmq
from benchmarks.profile_web import samples, summarize

RATE = 200  # samples per second
# Steps of a send, by a function on the sampled stack; the first match wins.
BREAKDOWN = (
    ("claim: UPDATE ... RETURNING (PostgreSQL)", ("_claim",)),
    ("outcome: fenced UPDATE (PostgreSQL)", ("_record_sent",)),
    ("provider call: HTTP (requests, urllib3, http.client)", ("PooledHttpClient.request",)),
    ("provider call: the client's schema, our gateway", ("dispatch",)),
    ("metrics and the log line", ("provider_call", "sends", "Logger.info", "_observe")),
    ("rest of the task (pause check, row, gateway lookup)", ("verification_send",)),
    ("Celery: thread pool and task tracer", ("apply_target", "_worker")),
    ("Celery and kombu: receive, dispatch, acknowledge", ("asynloop", "Hub.create_loop")),
)
OTHER = "other: stacks the sampler cut short, other threads"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--idle", action="store_true")
    parser.add_argument("--gil", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--rabbitmq", action="store_true")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(harness.BIN / "py-spy")
    extra = dict(item.split("=", 1) for item in args.env)
    # Outside the session's work directory, which is gone once the session ends.
    raw = Path(args.out or Path(tempfile.gettempdir()) / "worker-profile.txt")
    broker = harness.RABBITMQ_URL if args.rabbitmq else None
    if broker is not None:
        if not rabbitmq.available():
            raise SystemExit(f"no RabbitMQ at {broker}")
        extra["CELERY_BROKER_URL"] = broker

    with processes.session():
        databases.setup_django()
        from verification.models import SMSVerification

        sandbox = procfile.start_sandbox(latency_ms=drain.PROVIDER_LATENCY_MS, delivery_delay=60)
        drain.ROWS = args.rows
        drain._preload(broker)
        worker = procfile.start_worker(
            sandbox.url, pool=args.pool, concurrency=args.concurrency, **extra
        )
        processes.wait_until(
            lambda: SMSVerification.objects.filter(status="sent").exists(), timeout=60
        )
        target = processes.python_pids(worker.pid)[0]
        record = [
            py_spy, "record", "--pid", str(target), "--subprocesses", "--rate", str(RATE),
            "--format", "raw", "--output", str(raw), "--nonblocking",
        ] + (["--idle"] if args.idle else []) + (["--gil"] if args.gil else [])  # fmt: skip
        spy = subprocess.Popen(record, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        sent_before = SMSVerification.objects.filter(status="sent").count()
        processes.wait_until(
            lambda: SMSVerification.objects.filter(status="sent").count() >= args.rows,
            timeout=300,
            interval=0.2,
        )
        elapsed = time.monotonic() - started
        spy.send_signal(2)  # SIGINT: py-spy writes what it has
        spy.wait(timeout=30)
        processes.stop(worker, grace=5)
        processes.stop(sandbox.proc)
        databases.reset_state()
    print(f"drained in {elapsed:.1f} s after the first send")
    summarize(raw, args.top)
    if args.gil:
        breakdown(raw, sends=args.rows - sent_before)


def breakdown(raw: Path, *, sends: int) -> None:
    """Sampled GIL-holding time per send of each BREAKDOWN step, and its share."""
    steps = {label: 0 for label, _ in BREAKDOWN} | {OTHER: 0}
    for frames, count in samples(raw):
        functions = {frame.split(" (", 1)[0] for frame in frames}
        label = next((label for label, names in BREAKDOWN if functions.intersection(names)), OTHER)
        steps[label] += count
    total = sum(steps.values()) or 1
    print(f"\nper send ({sends} sends sampled; GIL-holding samples at {RATE} Hz):")
    for label, count in steps.items():
        per_send_ms = 1000 * count / RATE / max(1, sends)
        print(f"  {per_send_ms:6.3f} ms  {100 * count / total:5.1f}%  {label}")
    print(f"  {1000 * total / RATE / max(1, sends):6.3f} ms  total")


if __name__ == "__main__":
    main()
