"""1. API throughput and latency: send-code vs the framework's floor vs the synchronous design.

One gunicorn (the Procfile's `web` line, 4 sync workers, benchmark settings) serves all three
endpoints, so they share every setting; the sandbox answers in 300 ms. wrk posts a fresh
random +7999XXXXXXX phone per request at 8, 32 and 128 connections, alternating the
endpoints (A, B, C, A, B, C) and reporting medians. No worker runs in the main matrix (the
queue absorbs the sends); the last rows repeat 32 connections with the shipped worker line
draining the queue on the same two cores.

The deny-vs-off rows compare send-code with abuse protection off (the main web) and with
`ABUSE_PROTECTION=deny` on a second, identical gunicorn whose every rule is evaluated and
counted and whose spend caps are checked, but whose floors and caps are out of reach (wrk's
fresh phones from one address would otherwise be blocked, which is cheaper than a send).

    .venv/bin/python -m benchmarks.api_throughput [--protection-only | --floor-only]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from benchmarks import databases, harness, load, processes, procfile, reporting

PROVIDER_LATENCY_MS = 300
CONNECTIONS = (8, 32, 128)
WHATIF_FLOOR = "bare DRF POST (floor), durable-floor group"
DURABLE_FLOOR = "durable floor: bare DRF + libphonenumber + one raw INSERT"
SEND_RULES_ON = "send-code, abuse rules on (durable-floor group)"
ROUND_TRIPS = "durable floor + send-code's two Redis round trips, no other Python"
ONE_ROUND_TRIP = "what-if: the same, the LPUSH pipelined into the gate's round trip"
FLOOR_VARIANTS = (DURABLE_FLOOR, ROUND_TRIPS, ONE_ROUND_TRIP)
# The targets for send-code against the durable floor, at 32 connections.
FLOOR_RATIO_TARGET = 0.7
ENDPOINTS = {
    "bare DRF POST (floor)": "/bench/bare/",
    "send-code (this service)": "/api/auth/send-code/",
    "sync send (seed design)": "/bench/sync-send/",
}


PROTECTION_OFF = "send-code, ABUSE_PROTECTION=off"
PROTECTION_DENY = "send-code, ABUSE_PROTECTION=deny (all rules and caps checked)"
FLOORS = ("COUNTRY_HOUR", "COUNTRY_DAY", "PREFIX_HOUR", "IP_HOUR", "IP_DAY", "COUNTRIES_PER_IP")
PROTECTION_ENV = {
    "ABUSE_PROTECTION": "deny",
    **{f"ABUSE_FLOOR_{name}": harness.HIGH_LIMIT for name in FLOORS},
    "GREEN_SMS_BUDGET_PER_HOUR": "1000000000",
    "GREEN_SMS_BUDGET_PER_DAY": "1000000000",
}


@contextlib.contextmanager
def _rules_on_web(sandbox_url: str, name: str) -> Iterator[str]:
    """A second gunicorn, identical but for every abuse rule and cap evaluated (floors and
    caps out of reach); yields its base URL."""
    port = processes.free_port()
    web = procfile.start_web(port, name=name, GREEN_SMS_BASE_URL=sandbox_url, **PROTECTION_ENV)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        processes.stop(web)


def protection_cost(
    sandbox_url: str, script: Any, off_base: str
) -> dict[tuple[str, int], list[load.WrkResult]]:
    """send-code with protection off (`off_base`) and deny (a second gunicorn), alternated."""
    send = ENDPOINTS["send-code (this service)"]
    with _rules_on_web(sandbox_url, "web-deny") as deny_base:
        load.run_wrk(deny_base + send, script=script, connections=8, seconds=2)
        harness.log("api_throughput: protection deny vs off at 32 connections")
        runs = reporting.alternate(
            {
                PROTECTION_OFF: _cell(off_base + send, script, 32),
                PROTECTION_DENY: _cell(deny_base + send, script, 32),
            }
        )
    return {(name, 32): cell_runs for name, cell_runs in runs.items()}


def durable_floor_group(
    sandbox_url: str, script: Any, base: str
) -> dict[tuple[str, int], list[load.WrkResult]]:
    """Bare DRF, the durable floor, the floor with send-code's round trips (and, what-if, with
    them folded into one) and send-code with every abuse rule evaluated, alternated at 32
    connections. All but the first two run on the deny gunicorn of protection_cost, so the
    gate's script does all its work."""
    send = ENDPOINTS["send-code (this service)"]
    with _rules_on_web(sandbox_url, "web-rules-on") as deny_base:
        round_trips = deny_base + "/bench/round-trips-floor/"
        one_round_trip = deny_base + "/bench/one-round-trip-floor/"
        for url in (base + "/bench/durable-floor/", round_trips, one_round_trip, deny_base + send):
            load.run_wrk(url, script=script, connections=8, seconds=2)
        harness.log("api_throughput: durable floor group at 32 connections")
        runs = reporting.alternate(
            {
                WHATIF_FLOOR: _metered(
                    WHATIF_FLOOR, base + ENDPOINTS["bare DRF POST (floor)"], script
                ),
                DURABLE_FLOOR: _metered(DURABLE_FLOOR, base + "/bench/durable-floor/", script),
                ROUND_TRIPS: _metered(ROUND_TRIPS, round_trips, script),
                ONE_ROUND_TRIP: _metered(ONE_ROUND_TRIP, one_round_trip, script),
                SEND_RULES_ON: _metered(SEND_RULES_ON, deny_base + send, script),
            }
        )
    return {(name, 32): cell_runs for name, cell_runs in runs.items()}


# Machine CPU per request of the durable-floor group's runs, by process role (ms).
MACHINE_CPU: dict[str, list[dict[str, float]]] = {}


def _metered(name: str, url: str, script: Any) -> Any:
    """A 32-connection wrk cell that also records the machine's CPU per request by role."""

    def run() -> load.WrkResult:
        before = processes.machine_cpu_by_role()
        result = load.run_wrk(url, script=script, connections=32)
        after = processes.machine_cpu_by_role()
        per_request = {
            role: 1000 * (after[role] - before[role]) / max(1, result.requests)
            for role in processes.ROLES
        }
        MACHINE_CPU.setdefault(name, []).append(per_request)
        return result

    return run


def machine_cpu_report() -> str:
    """Table 1e: where each request of the durable-floor group costs the machine CPU."""
    if not MACHINE_CPU:
        return ""
    medians = {
        name: {role: reporting.median(run[role] for run in runs) for role in processes.ROLES}
        for name, runs in MACHINE_CPU.items()
    }
    rows = []
    for name, cpu in medians.items():
        rows.append([name, *(cpu[role] for role in processes.ROLES), sum(cpu.values())])
    if DURABLE_FLOOR in medians and SEND_RULES_ON in medians:
        floor, send = medians[DURABLE_FLOOR], medians[SEND_RULES_ON]
        extra = [send[role] - floor[role] for role in processes.ROLES]
        rows.append(["send-code − durable floor", *extra, sum(extra)])
    return reporting.table(
        ["endpoint (32 conns)", "gunicorn ms", "PostgreSQL ms", "Redis ms", "wrk ms", "total ms"],
        rows,
        title=(
            "1e. Machine CPU per request, by process (durable-floor group; user + system CPU "
            "of every process of each role over each run ÷ its requests; medians)"
        ),
    )


@contextlib.contextmanager
def _one_web(warm_path: str) -> Iterator[tuple[str, Any, str]]:
    """The sandbox and the main gunicorn, warmed up on `warm_path`; yields (sandbox URL, wrk
    script, base URL). For the partial runs; run() sets up the whole matrix itself."""
    load.ensure_wrk()
    databases.setup_django()
    databases.reset_state()
    script = load.lua_script("random_phone", load.LUA_RANDOM_PHONE)
    sandbox = procfile.start_sandbox(latency_ms=PROVIDER_LATENCY_MS)
    web_port = processes.free_port()
    web = procfile.start_web(web_port, GREEN_SMS_BASE_URL=sandbox.url)
    try:
        base = f"http://127.0.0.1:{web_port}"
        load.run_wrk(base + warm_path, script=script, connections=8, seconds=2)
        yield sandbox.url, script, base
    finally:
        processes.stop(web)
        processes.stop(sandbox.proc)
        databases.flush_redis()


def run_floor_only() -> str:
    """Only the durable-floor group (bare DRF, the floor, send-code with the rules on) and
    its machine-CPU table: the quick check of send-code against the cost of a row."""
    with _one_web(ENDPOINTS["bare DRF POST (floor)"]) as (sandbox_url, script, base):
        results = durable_floor_group(sandbox_url, script, base)
    rows = [
        [name, reporting.median(r.rps for r in runs), reporting.median(r.p99_ms for r in runs)]
        for (name, _), runs in results.items()
    ]
    floor = reporting.median(r.rps for r in results[(DURABLE_FLOOR, 32)])
    send = reporting.median(r.rps for r in results[(SEND_RULES_ON, 32)])
    text = reporting.table(
        ["endpoint (32 conns)", "req/s", "p99 ms"], rows, title="1. Durable floor"
    )
    text += f"\nsend-code with the abuse rules on ÷ the durable floor: **{send / floor:.2f}×**\n"
    text += _ceiling_line(
        {name: reporting.median(r.rps for r in results[(name, 32)]) for name in FLOOR_VARIANTS}
    )
    return text + "\n" + machine_cpu_report()


def run_protection_only() -> str:
    with _one_web(ENDPOINTS["send-code (this service)"]) as (sandbox_url, script, base):
        results = protection_cost(sandbox_url, script, base)
    return _protection_report(results)


def protection_cpu(rounds: int = 3, calls: int = 300) -> dict[str, tuple[float, float]]:
    """verification_create() called in this process with protection off and deny, alternated:
    (wall ms, CPU ms) per call, medians of the rounds. CPU time is what a loaded machine
    disturbs least (Redis's and PostgreSQL's own CPU are not in it)."""
    import time

    from django.test import override_settings

    from verification import services

    deny = {key: value for key, value in PROTECTION_ENV.items() if key != "ABUSE_PROTECTION"}
    modes = {
        PROTECTION_OFF: {"ABUSE_PROTECTION": "off"},
        PROTECTION_DENY: {"ABUSE_PROTECTION": "deny", **{k: int(v) for k, v in deny.items()
                                                         if k.startswith("ABUSE_FLOOR")},
                          "GREEN_SMS_BUDGET_PER_HOUR": deny["GREEN_SMS_BUDGET_PER_HOUR"],
                          "GREEN_SMS_BUDGET_PER_DAY": deny["GREEN_SMS_BUDGET_PER_DAY"]},
    }  # fmt: skip
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in modes}
    databases.reset_state()
    try:
        for _ in range(rounds):
            for name, overrides in modes.items():
                with override_settings(**overrides):
                    for _ in range(20):
                        services.verification_create(
                            phone=databases.random_phone(), client_ip="10.0.0.1"
                        )
                    wall, cpu = time.perf_counter(), time.process_time()
                    for _ in range(calls):
                        services.verification_create(
                            phone=databases.random_phone(), client_ip="10.0.0.1"
                        )
                    samples[name].append(
                        ((time.perf_counter() - wall) / calls * 1000,
                         (time.process_time() - cpu) / calls * 1000)
                    )  # fmt: skip
    finally:
        databases.reset_state()
    return {
        name: (reporting.median(w for w, _ in runs), reporting.median(c for _, c in runs))
        for name, runs in samples.items()
    }


def _protection_report(results: dict[tuple[str, int], list[load.WrkResult]]) -> str:
    rows = []
    for (name, connections), runs in results.items():
        rows.append(
            [
                name,
                connections,
                reporting.median(r.rps for r in runs),
                reporting.median(r.p50_ms for r in runs),
                reporting.median(r.p99_ms for r in runs),
                sum(r.errors for r in runs),
            ]
        )
    off = reporting.median(r.rps for r in results[(PROTECTION_OFF, 32)])
    deny = reporting.median(r.rps for r in results[(PROTECTION_DENY, 32)])
    cost = 1 - deny / off
    text = reporting.table(
        ["send-code", "conns", "req/s", "p50 ms", "p99 ms", "errors"],
        rows,
        title=(
            f"1c. Abuse protection's cost (two identical gunicorns, 4 sync workers each; wrk -t2, "
            f"{harness.WRK_SECONDS} s per run, median of {harness.REPS} alternated runs)"
        ),
    )
    verdict = "met" if cost <= 0.10 else "missed"
    text += f"\nTarget: protection costs ≤ 10% of throughput: **{cost:.1%}** ({verdict}).\n"
    cpu = protection_cpu()
    rows = [[name, wall, ms] for name, (wall, ms) in cpu.items()]
    extra = cpu[PROTECTION_DENY][1] / cpu[PROTECTION_OFF][1] - 1
    text += "\n" + reporting.table(
        ["verification_create()", "wall ms", "CPU ms (this process)"],
        rows,
        title="1d. The same, called in-process (no HTTP; medians of 3 alternated rounds of 300)",
    )
    return text + f"\nProtection's CPU in the send path: **{extra:+.1%}** per request.\n"


def run() -> tuple[str, dict[str, Any]]:
    databases.setup_django()
    databases.reset_state()
    script = load.lua_script("random_phone", load.LUA_RANDOM_PHONE)
    sandbox = procfile.start_sandbox(latency_ms=PROVIDER_LATENCY_MS)
    web_port = processes.free_port()
    web = procfile.start_web(web_port, GREEN_SMS_BASE_URL=sandbox.url)
    base = f"http://127.0.0.1:{web_port}"
    worker = None
    try:
        harness.log("api_throughput: warming up")
        for path in ENDPOINTS.values():
            load.run_wrk(base + path, script=script, connections=8, seconds=2)

        results: dict[tuple[str, int], list[load.WrkResult]] = {}
        for connections in CONNECTIONS:
            harness.log(f"api_throughput: {connections} connections")
            runs = reporting.alternate(
                {name: _cell(base + path, script, connections) for name, path in ENDPOINTS.items()}
            )
            for name, cell_runs in runs.items():
                results[(name, connections)] = cell_runs

        # The durable floor (bench_views.DurableFloorView) beside send-code with the abuse
        # rules on (a second, identical gunicorn), at 32 connections.
        results.update(durable_floor_group(sandbox.url, script, base))
        protection = protection_cost(sandbox.url, script, base)

        # Same comparison with the worker sending on the same two cores.
        databases.reset_state()
        worker = procfile.start_worker(sandbox.url)
        harness.log("api_throughput: 32 connections with the worker line running")
        runs = reporting.alternate(
            {
                "bare DRF POST (floor), worker running": _cell(
                    base + ENDPOINTS["bare DRF POST (floor)"], script, 32
                ),
                "send-code, worker running": _cell(
                    base + ENDPOINTS["send-code (this service)"], script, 32
                ),
            }
        )
        for name, cell_runs in runs.items():
            results[(name, 32)] = cell_runs
    finally:
        if worker is not None:
            processes.stop(worker, grace=5)
        processes.stop(web)
        processes.stop(sandbox.proc)
        databases.flush_redis()
    text, figures = _report(results)
    text += "\n" + machine_cpu_report()
    return text + "\n" + _protection_report(protection) + "\n" + breakdown(), figures


def breakdown(rounds: int = 3, calls: int = 300) -> str:
    """Where send-code's CPU goes: the view and its parts, called in this process (no HTTP,
    no gunicorn), medians of alternated rounds. The profile behind the recommendations."""
    import json
    import time
    import uuid

    from django.conf import settings
    from django.db import transaction
    from django.test import Client
    from django.utils import timezone

    from project import redis_publish
    from project.celery import app
    from verification import codes, dispatch, services
    from verification.cache import verification_cache
    from verification.models import SMSVerification
    from verification.phones import normalize_phone
    from verification.ratelimit import Limit, rate_limiter

    databases.reset_state()
    client = Client(HTTP_HOST="127.0.0.1")
    redis = databases.redis_client()

    def post(path: str) -> Any:
        body = json.dumps({"phone": databases.random_phone()})
        return lambda: client.post(path, data=body, content_type="application/json")

    def new_row(phone: str) -> SMSVerification:
        return SMSVerification(phone=phone, **codes.new_material().row_fields())

    def retire_and_insert() -> None:
        phone, now = databases.random_phone(), timezone.now()
        with transaction.atomic():
            SMSVerification.objects.filter(phone=phone, is_used=False, expires_at__gt=now).update(
                expires_at=now
            )
            new_row(phone).save(force_insert=True)

    def send_task(sent_event: bool) -> Any:
        def go() -> None:
            app.conf.task_send_sent_event = sent_event
            app.send_task(
                dispatch.SEND_CODE,
                (str(uuid.uuid4()),),
                **dispatch.publish_options(expires=settings.VERIFICATION_CODE_TTL),
            )

        return go

    cached = new_row("+79990000000")
    real_create = services.verification_create
    shipped_event = bool(app.conf.task_send_sent_event)
    # On Redis, send-code's publish skips send_task (project/redis_publish.py).
    lean = redis_publish.can_publish(app, dispatch.SEND_CODE)

    def view_without_service() -> None:
        services.verification_create = lambda **_: cached
        try:
            post("/api/auth/send-code/")()
        finally:
            services.verification_create = real_create

    def limits() -> list[Limit]:
        return [
            Limit(f"send:phone:{databases.random_phone()}", 10**6, 3600),
            Limit("send:ip:127.0.0.1", 10**6, 3600),
        ]

    def tag(sent_event: bool) -> str:
        return " (shipped)" if sent_event == shipped_event and not lean else ""

    parts = {
        "view: bare DRF POST (floor)": lambda: post("/bench/bare/")(),
        "view: send-code (whole request, in-process)": lambda: post("/api/auth/send-code/")(),
        "view: send-code with verification_create stubbed": view_without_service,
        "verification_create() called directly": lambda: real_create(
            phone=databases.random_phone(), client_ip="127.0.0.1"
        ),
        "normalize_phone (libphonenumber)": lambda: normalize_phone(databases.random_phone()),
        "rate limits (2) + code-cache SET: one EVALSHA": lambda: rate_limiter.hit(
            limits(), then_set=verification_cache.entry(cached.phone, cached)
        ),
        "atomic: retire UPDATE + INSERT + COMMIT (a phone's 2nd+ code)": retire_and_insert,
        "INSERT alone, autocommit (a phone's 1st code of the hour)": lambda: new_row(
            databases.random_phone()
        ).save(force_insert=True),
        f"publish: Celery send_task, task_send_sent_event=True{tag(True)}": send_task(True),
        f"publish: Celery send_task, task_send_sent_event=False{tag(False)}": send_task(False),
        "publish: the same message in one LPUSH (project/redis_publish.py)"
        + (" (shipped)" if lean else ""): lambda: dispatch.publish_send(uuid.uuid4()),
        "raw Redis LPUSH of a 600-byte message (floor)": lambda: redis.lpush(
            "bench:floor", "x" * 600
        ),
    }
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in parts}
    try:
        for _ in range(rounds):
            for name, call in parts.items():
                for _ in range(20):
                    call()
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(calls):
                    call()
                figures[name].append(
                    (
                        (time.perf_counter() - wall) / calls * 1000,
                        (time.process_time() - cpu) / calls * 1000,
                    )
                )
    finally:
        app.conf.task_send_sent_event = shipped_event
        databases.reset_state()
    floor = reporting.median(c for _, c in figures["view: bare DRF POST (floor)"])
    rows = []
    for name, samples in figures.items():
        cpu = reporting.median(c for _, c in samples)
        rows.append([name, reporting.median(w for w, _ in samples), cpu, f"{cpu / floor:.1f}×"])
    return reporting.table(
        ["step", "wall ms", "CPU ms (this process)", "CPU ÷ bare view"],
        rows,
        title=(
            f"1b. Where send-code's time goes (called in-process, no HTTP; medians of {rounds} "
            f"alternated rounds of {calls} calls; PostgreSQL and Redis server CPU not included)"
        ),
    )


def _cell(url: str, script: Any, connections: int) -> Any:
    return lambda: load.run_wrk(url, script=script, connections=connections)


def _report(results: dict[tuple[str, int], list[load.WrkResult]]) -> tuple[str, dict[str, Any]]:
    def med(name: str, connections: int, attr: str) -> float:
        return reporting.median(getattr(r, attr) for r in results[(name, connections)])

    rows, figures = [], {}
    for (name, connections), runs in results.items():
        floor_name = "bare DRF POST (floor)"
        if "worker" in name:
            floor_name = "bare DRF POST (floor), worker running"
        elif "durable-floor group" in name or name in FLOOR_VARIANTS:
            floor_name = WHATIF_FLOOR
        rps = med(name, connections, "rps")
        ratio = rps / med(floor_name, connections, "rps")
        p99 = med(name, connections, "p99_ms")
        rows.append(
            [
                name,
                connections,
                rps,
                med(name, connections, "p50_ms"),
                p99,
                sum(r.errors for r in runs),
                sum(r.requests for r in runs),
                f"{ratio:.2f}×",
            ]
        )
        figures[f"{name}@{connections}"] = {"rps": rps, "p99_ms": p99, "ratio": ratio}
    text = reporting.table(
        ["endpoint", "conns", "req/s", "p50 ms", "p99 ms", "errors", "requests", "÷ bare"],
        rows,
        title=(
            f"1. API throughput (gunicorn `web` line, 4 sync workers; provider latency "
            f"{PROVIDER_LATENCY_MS} ms; wrk -t2, {harness.WRK_SECONDS} s per run, median of "
            f"{harness.REPS} alternated runs; errors and requests summed over runs)"
        ),
    )
    send32 = figures["send-code (this service)@32"]
    text += (
        f"\nTargets: send-code ≥ 0.5× bare at 32 conns: **{send32['ratio']:.2f}×** "
        f"({'met' if send32['ratio'] >= 0.5 else 'missed'}); p99 at 32 conns < 100 ms: "
        f"**{send32['p99_ms']:.0f} ms** ({'met' if send32['p99_ms'] < 100 else 'missed'}).\n"
    )
    rules_on, floor = figures[f"{SEND_RULES_ON}@32"], figures[f"{DURABLE_FLOOR}@32"]
    ratio = rules_on["rps"] / floor["rps"]
    figures["send-code ÷ durable floor"] = ratio
    text += (
        f"\nsend-code with the abuse rules on ÷ the durable floor, side by side at 32 conns: "
        f"**{ratio:.2f}×** (target ≥ {FLOOR_RATIO_TARGET}×: "
        f"{'met' if ratio >= FLOOR_RATIO_TARGET else 'missed'}); its p99 "
        f"**{rules_on['p99_ms']:.0f} ms** (< 100 ms: "
        f"{'met' if rules_on['p99_ms'] < 100 else 'missed'}); the durable floor is "
        f"{floor['ratio']:.2f}× a bare DRF POST.\n"
    )
    text += _ceiling_line({name: figures[f"{name}@32"]["rps"] for name in FLOOR_VARIANTS})
    return text, figures


def _ceiling_line(rps: dict[str, float]) -> str:
    floor = rps[DURABLE_FLOOR]
    return (
        f"\nThe durable floor with send-code's two Redis round trips and none of its other "
        f"Python (the ceiling of send-code's ratio while it makes them): "
        f"**{rps[ROUND_TRIPS] / floor:.2f}×** the floor; with the LPUSH pipelined into the "
        f"gate's round trip (what-if): {rps[ONE_ROUND_TRIP] / floor:.2f}×.\n"
    )


def main() -> None:
    import sys

    with processes.session():
        if "--protection-only" in sys.argv:
            print(run_protection_only())
        elif "--floor-only" in sys.argv:
            print(run_floor_only())
        else:
            print(run()[0])


if __name__ == "__main__":
    main()
