"""2. Enqueue-to-provider latency: from the 202 to the sandbox receiving the SMS.

The Procfile's `web` line (4 workers) and `worker` line (as shipped) run against the sandbox
(300 ms provider latency). A probe client posts send-code one request at a time (10 per
second, phones +7998...) and notes the wall-clock time each 202 arrives; the sandbox stamps
each message's `created_at` after its configured latency, so the moment it received the
request is `created_at - latency`. Idle and under load (wrk posting about 100 random phones
a second in the background, about half of what 64 threads can send at 300 ms) alternate.

    .venv/bin/python -m benchmarks.enqueue_latency
"""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from datetime import datetime
from typing import Any

from benchmarks import databases, harness, load, processes, procfile, reporting

PROVIDER_LATENCY_MS = 300
PROBES_PER_SECOND = 10
PROBE_SECONDS = 6 if harness.QUICK else 15
LOAD_CONNECTIONS, LOAD_DELAY_MS = 11, 100  # ~100 req/s: 11 connections, 100 ms apart

LUA_PACED = load.LUA_RANDOM_PHONE + f"\nfunction delay()\n  return {LOAD_DELAY_MS}\nend\n"


def run() -> tuple[str, dict[str, Any]]:
    databases.setup_django()
    databases.reset_state()
    sandbox = procfile.start_sandbox(latency_ms=PROVIDER_LATENCY_MS, delivery_delay=60)
    port = processes.free_port()
    web = procfile.start_web(port, GREEN_SMS_BASE_URL=sandbox.url)
    worker = procfile.start_worker(sandbox.url)
    script = load.lua_script("paced", LUA_PACED)
    try:
        _probe(port, sandbox, seconds=2)  # warm up: connections, imports, first publish
        results = reporting.alternate(
            {
                "idle": lambda: _condition(port, sandbox, None),
                "under load (wrk, paced)": lambda: _condition(port, sandbox, script),
            }
        )
    finally:
        processes.stop(worker, grace=5)
        processes.stop(web)
        processes.stop(sandbox.proc)
        databases.flush_redis()
    return _report(results)


def _condition(port: int, sandbox: procfile.Sandbox, load_script: Any) -> dict[str, Any]:
    _settle(sandbox)
    background = None
    if load_script is not None:
        argv = [
            load.ensure_wrk(), "-t2", f"-c{LOAD_CONNECTIONS}", f"-d{PROBE_SECONDS + 3}s",
            "-s", str(load_script), f"http://127.0.0.1:{port}/api/auth/send-code/",
        ]  # fmt: skip
        background = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)
    try:
        latencies = _probe(port, sandbox, seconds=PROBE_SECONDS)
    finally:
        load_rps = 0.0
        if background is not None:
            output, _ = background.communicate(timeout=60)
            load_rps = load.parse_wrk(output).rps
    return {"latencies_ms": latencies, "load_rps": load_rps}


def _settle(sandbox: procfile.Sandbox) -> None:
    """Empty queue, nothing in flight, sandbox forgotten: the next figures start clean."""
    processes.wait_until(lambda: databases.queue_length("sms") == 0, timeout=120)
    time.sleep(PROVIDER_LATENCY_MS / 1000 + 0.5)
    sandbox.reset()


def _probe(port: int, sandbox: procfile.Sandbox, *, seconds: float) -> list[float]:
    """Post send-code at PROBES_PER_SECOND; returns 202 -> provider-received delays, ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answered: dict[str, float] = {}
    interval = 1 / PROBES_PER_SECOND
    next_at = time.monotonic()
    deadline = next_at + seconds
    while next_at < deadline:
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        body = json.dumps({"phone": databases.random_phone("+7998")})
        conn.request("POST", "/api/auth/send-code/", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        now = time.time()
        if response.status == 202:
            answered[json.loads(payload)["verification_id"]] = now
    conn.close()

    def received() -> dict[str, float]:
        found = {}
        for message in sandbox.messages():
            if message["tag"] in answered:
                created = datetime.fromisoformat(message["created_at"]).timestamp()
                found[message["tag"]] = created - PROVIDER_LATENCY_MS / 1000
        return found if len(found) == len(answered) else {}

    arrivals = processes.wait_until(received, timeout=60, interval=0.5) or {}
    if len(arrivals) < len(answered):
        harness.log(f"enqueue_latency: {len(answered) - len(arrivals)} probes never arrived")
    return [(arrivals[key] - answered[key]) * 1000 for key in arrivals]


def _report(results: dict[str, list[dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    rows, figures = [], {}
    for name, runs in results.items():
        per_run_p50 = [reporting.percentile(r["latencies_ms"], 50) for r in runs]
        per_run_p99 = [reporting.percentile(r["latencies_ms"], 99) for r in runs]
        pooled = [x for r in runs for x in r["latencies_ms"]]
        load_rps = reporting.median(r["load_rps"] for r in runs) if "load" in name else 0.0
        figures[name] = {
            "p50_ms": reporting.median(per_run_p50),
            "p99_ms": reporting.median(per_run_p99),
        }
        rows.append(
            [
                name,
                f"{load_rps:.0f}" if load_rps else "–",
                len(pooled),
                reporting.median(per_run_p50),
                reporting.median(per_run_p99),
                max(pooled) if pooled else float("nan"),
            ]
        )
    text = reporting.table(
        ["condition", "background req/s", "probes", "p50 ms", "p99 ms", "max ms"],
        rows,
        title=(
            f"2. Enqueue-to-provider latency (202 → sandbox receives the send; provider "
            f"latency {PROVIDER_LATENCY_MS} ms, shipped worker line; medians of "
            f"{harness.REPS} alternated runs of {PROBE_SECONDS} s)"
        ),
    )
    idle = figures["idle"]["p99_ms"]
    verdict = "met" if idle < 250 else "missed"
    text += f"\nTarget: p99 at idle < 250 ms: **{idle:.0f} ms** ({verdict}).\n"
    return text, figures


def main() -> None:
    with processes.session():
        print(run()[0])


if __name__ == "__main__":
    main()
