"""Shared helpers: processes, ports, the environment, the database, the sandbox, wrk, tables.

Every benchmark runs its processes (the sandbox, gunicorn, the Procfile worker line) in
their own process groups and stops them in `finally` blocks, on Ctrl-C and on SIGTERM.
It only ever touches its own database and its own Redis database number.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def _own(variable: str, default: str, path: str) -> str:
    """BENCH_<X>, else the server of <X> (e.g. REDIS_URL set by scripts/with_redis.py) with
    our own database name or number, else `default`: never the database others test on."""
    explicit = os.environ.get("BENCH_" + variable)
    if explicit:
        return explicit
    inherited = urlsplit(os.environ.get(variable, ""))
    if inherited.scheme in ("postgres", "postgresql", "redis") and inherited.netloc:
        return inherited._replace(path=path, query="").geturl()
    return default


# Our own database and Redis database number: other people test against the defaults.
DATABASE_URL = _own(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/verification_bench", "/verification_bench"
)
REDIS_URL = _own("REDIS_URL", "redis://127.0.0.1:6379/9", "/9")
SECRET_KEY = "benchmark-only-secret-key-" + "x" * 32  # noqa: S105 - loopback benchmark
# Production settings need a proof-token key; every process of one run shares this one.
TOKEN_KEY = (
    Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)
SANDBOX_USER, SANDBOX_PASSWORD = "bench", "bench-pass"  # noqa: S105
HIGH_LIMIT = "1000000"  # rate limits raised: fresh phones, one client IP
# Seconds wrk runs per cell; BENCH_QUICK=1 shortens everything for a smoke run.
QUICK = os.environ.get("BENCH_QUICK") == "1"
WRK_SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "3" if QUICK else "8"))
REPS = int(os.environ.get("BENCH_REPS", "1" if QUICK else "2"))

WORK_DIR = Path(tempfile.mkdtemp(prefix="verification-bench-"))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- environment ---------------------------------------------------------------------
def bench_env(**overrides: str) -> dict[str, str]:
    """The environment of every process a benchmark starts (and of the orchestrator)."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing from the caller's shell may point a process elsewhere.
        if not key.startswith(
            ("DJANGO_", "GREEN_SMS_", "GREENSMS_", "RATE_LIMIT_", "CELERY_", "ABUSE_")
        )
        and key not in {"DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY", "WORKER_CONCURRENCY"}
    }
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "benchmarks.bench_settings",
            "DJANGO_DEBUG": "False",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "VERIFICATION_TOKEN_PRIVATE_KEY": TOKEN_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": REDIS_URL,
            "GREEN_SMS_DEBUG": "False",
            "GREEN_SMS_USER": SANDBOX_USER,
            "GREEN_SMS_PASSWORD": SANDBOX_PASSWORD,
            "GREEN_SMS_BASE_URL": "http://127.0.0.1:1",  # replaced once a sandbox runs
            "RATE_LIMIT_SEND_PER_HOUR": HIGH_LIMIT,
            "RATE_LIMIT_SEND_PER_IP_PER_HOUR": HIGH_LIMIT,
            "RATE_LIMIT_VERIFY_PER_HOUR": HIGH_LIMIT,
            "RATE_LIMIT_SEND_PER_DAY": HIGH_LIMIT,
            "RATE_LIMIT_VERIFY_PER_IP_PER_HOUR": HIGH_LIMIT,
            # Fresh random phones from one address, never verified: the abuse rules and the
            # resend cooldown would refuse them. benchmarks/abuse.py and the deny-vs-off
            # comparison of api_throughput.py switch them on.
            "ABUSE_PROTECTION": "off",
            "VERIFICATION_RESEND_COOLDOWN": "0",
            "LOG_LEVEL": "INFO",  # the Procfile's default
        }
    )
    env.update(overrides)
    return env


_django_ready = False


def setup_django() -> None:
    """Django in this (orchestrator) process, on the benchmark database and Redis; the
    database is created and migrated first. Idempotent."""
    global _django_ready
    if _django_ready:
        return
    ensure_database()
    os.environ.update(bench_env(LOG_LEVEL="WARNING"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    _django_ready = True


def point_gateway_at(sandbox_url: str) -> None:
    """This process's gateway talks to `sandbox_url` (the next get_gateway() rebuilds it)."""
    from django.conf import settings

    settings.GREEN_SMS_BASE_URL = sandbox_url


# --- processes -----------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


_running: list[Proc] = []
_started = itertools.count(1)


def start(name: str, command: str | Sequence[str], env: dict[str, str]) -> Proc:
    """Start a process in its own process group (so stop() also ends its children)."""
    argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
    env = dict(env)
    cwd = env.pop("_BENCH_CWD", str(ROOT))
    log_path = WORK_DIR / f"{next(_started):02d}-{name}.log"
    with log_path.open("wb") as out:
        popen = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    proc = Proc(name, popen, log_path)
    _running.append(proc)
    return proc


def stop(proc: Proc, *, grace: float = 10.0, sig: int = signal.SIGTERM) -> None:
    if proc in _running:
        _running.remove(proc)
    if proc.popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=5)
    # Children that left the group's leader behind (gunicorn workers, pool children).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def stop_all() -> None:
    for proc in reversed(list(_running)):
        with contextlib.suppress(Exception):
            stop(proc, grace=5.0)


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def session() -> Iterator[None]:
    """Run a benchmark: everything started inside is stopped on the way out, whatever happens."""
    atexit.register(stop_all)
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if os.environ.get("BENCH_KEEP_LOGS") != "1":
            shutil.rmtree(WORK_DIR, ignore_errors=True)
        else:
            log(f"logs kept in {WORK_DIR}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: Proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not listen on {port} within {timeout} s:\n{proc.tail()}")


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def rss_mib(pid: int, field_name: str = "VmRSS") -> float:
    """VmRSS (now) or VmHWM (peak) of one process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_pids(pid: int) -> list[int]:
    import psutil

    try:
        parent = psutil.Process(pid)
        return [parent.pid, *(child.pid for child in parent.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def python_pids(pid: int) -> list[int]:
    """The processes under `pid` except the `sh -c` wrapper: master first, then children."""
    import psutil

    found = []
    for candidate in tree_pids(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            if psutil.Process(candidate).name() not in {"sh", "dash", "bash"}:
                found.append(candidate)
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU consumed so far by these processes."""
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def pg_connections() -> int:
    """Server connections to the benchmark database right now (ours only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def pg_free_slots() -> int:
    """Connections the PostgreSQL server can still accept (all databases, all users)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        )
        return int(cursor.fetchone()[0])


def pg_sessions() -> int:
    """Sessions ever opened on the benchmark database (pg_stat_database, PostgreSQL >= 14)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


# --- the Procfile ----------------------------------------------------------------------
def procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, sep, command = line.partition(":")
        if sep and key.strip() == name:
            return command.strip()
    raise KeyError(f"no `{name}` line in the Procfile")


def start_web(port: int, *, workers: int = 4, name: str = "web", **env: str) -> Proc:
    """The Procfile's `web` line as shipped (access log and all), on `port`."""
    # gunicorn >= 25 opens a control socket at ~/.gunicorn/gunicorn.ctl by default: give ours
    # a private path so it never replaces the socket of another gunicorn on this machine.
    command = f"{procfile_line('web')} --control-socket {WORK_DIR}/gunicorn-{port}.ctl"
    proc = start(
        name,
        command,
        bench_env(WEB_CONCURRENCY=str(workers), WEB_PORT=str(port), HOST="127.0.0.1", **env),
    )
    wait_port(port, proc, timeout=60)
    return proc


def wait_idle(base_url: str, timeout: float = 90.0) -> None:
    """Wait until gunicorn has worked off requests a finished wrk left in its backlog
    (closed connections are still accepted and served), so they never leak into the next run."""
    deadline = time.monotonic() + timeout
    fast = 0
    while time.monotonic() < deadline and fast < 3:
        started = time.monotonic()
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            base_url + "/bench/bare/",
            data=b'{"phone": "+79990000000"}',
            headers={"Content-Type": "application/json"},
        )
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=timeout).read()  # noqa: S310 - loopback
        fast = fast + 1 if time.monotonic() - started < 0.05 else 0


def worker_command(pool: str | None = None, concurrency: int | None = None) -> str:
    """The Procfile's `worker` line; with `pool`, the same line on another pool."""
    command = procfile_line("worker")
    if pool is not None:
        command, count = re.subn(r"--pool[ =]\S+", f"--pool {pool}", command)
        if not count:
            command += f" --pool {pool}"
    if concurrency is not None:
        command = re.sub(r"--concurrency[ =]\S+", f"--concurrency {concurrency}", command)
    return command


def celery_overrides(**values: Any) -> dict[str, str]:
    """Env for a process whose `celeryconfig` is the project's with `values` changed.

    A what-if for the tables only: a shim `celeryconfig` module loads the real file and
    overrides a few keys, so nothing in the project changes. The process runs in the shim's
    directory, because `celery` puts its working directory first on sys.path.
    """
    key = "-".join(f"{k}={v}" for k, v in sorted(values.items()))
    shim = WORK_DIR / f"celeryconfig-{abs(hash(key))}"
    shim.mkdir(exist_ok=True)
    real = str(ROOT / "celeryconfig.py")
    (shim / "celeryconfig.py").write_text(
        "import importlib.util\n"
        f"_spec = importlib.util.spec_from_file_location('_celeryconfig', {real!r})\n"
        "_real = importlib.util.module_from_spec(_spec)\n"
        "_spec.loader.exec_module(_real)\n"
        "globals().update({k: v for k, v in vars(_real).items() if not k.startswith('__')})\n"
        + "".join(f"{name} = {value!r}\n" for name, value in values.items())
    )
    return {"PYTHONPATH": f"{shim}{os.pathsep}{ROOT}", "_BENCH_CWD": str(shim)}


def shipped_worker_concurrency() -> int:
    match = re.search(r"WORKER_CONCURRENCY:-(\d+)", procfile_line("worker"))
    return int(match.group(1)) if match else 0


def start_worker(
    sandbox_url: str,
    *,
    pool: str | None = None,
    concurrency: int | None = None,
    node: str | None = None,
    **env: str,
) -> Proc:
    """The Procfile's worker line (see worker_command); `node` names a second instance."""
    command = worker_command(pool, concurrency)
    if node:
        command += f" --hostname {node}@%h"
    return start("worker", command, bench_env(GREEN_SMS_BASE_URL=sandbox_url, **env))


# --- the sandbox -----------------------------------------------------------------------
@dataclass
class Sandbox:
    proc: Proc
    url: str

    def _call(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        method = "POST" if data else "GET"
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def stats(self) -> dict[str, int]:
        return self._call("/_sandbox/stats")  # type: ignore[no-any-return]

    def messages(self) -> list[dict[str, Any]]:
        return self._call("/_sandbox/messages")  # type: ignore[no-any-return]

    def configure(self, **changes: Any) -> dict[str, Any]:
        return self._call("/_sandbox/config", changes)  # type: ignore[no-any-return]

    def reset(self) -> None:
        self._call("/_sandbox/reset", {})


def start_sandbox(*, latency_ms: int = 0, delivery_delay: float = 1.0) -> Sandbox:
    """`manage.py greensms_sandbox`, as tests and local runs use it, with a large balance."""
    port = free_port()
    command = [
        PYTHON, "manage.py", "greensms_sandbox", "--port", str(port),
        "--latency-ms", str(latency_ms), "--delivery-delay", str(delivery_delay),
        "--balance", "1000000000", "--user", SANDBOX_USER, "--password", SANDBOX_PASSWORD,
    ]  # fmt: skip
    proc = start("sandbox", command, bench_env(LOG_LEVEL="WARNING"))
    wait_port(port, proc)
    return Sandbox(proc, f"http://127.0.0.1:{port}")


# --- database and Redis ------------------------------------------------------------------
def ensure_database() -> None:
    """Create the benchmark database if missing, then migrate it (in a subprocess)."""
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=bench_env(),
        check=True,
    )


def redis_client() -> Any:
    import redis

    return redis.Redis.from_url(REDIS_URL)


def flush_redis() -> None:
    """FLUSHDB of the benchmark's own Redis database (never database 0, never FLUSHALL)."""
    client = redis_client()
    db = client.connection_pool.connection_kwargs.get("db", 0)
    if int(db) == 0:
        raise RuntimeError("refusing to flush Redis database 0: set BENCH_REDIS_URL to /N, N>0")
    client.flushdb()


def queue_length(name: str = "sms") -> int:
    return int(redis_client().llen(name))


def reset_state() -> None:
    """Empty the verification table (ours), the broker queues and caches (ours)."""
    from django.db import connection

    from verification.models import SMSVerification

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {SMSVerification._meta.db_table}")
    flush_redis()


COLUMNS = (
    "id", "phone", "code_hash", "code_seed", "request_id", "status", "is_used", "used_at",
    "attempts", "send_attempts", "created_at", "expires_at", "lease_until", "sent_at",
    "delivered_at", "status_checked_at", "error", "client_ip",
)  # fmt: skip


def row(**values: Any) -> tuple[Any, ...]:
    defaults: dict[str, Any] = {
        "id": uuid.uuid4(), "phone": "+79990000000", "code_hash": "", "code_seed": "",
        "request_id": "", "status": "queued", "is_used": False, "used_at": None, "attempts": 0,
        "send_attempts": 0, "lease_until": None, "sent_at": None, "delivered_at": None,
        "status_checked_at": None, "error": "", "client_ip": None,
    }  # fmt: skip
    defaults.update(values)
    return tuple(defaults[name] for name in COLUMNS)


def copy_rows(rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY rows (built with `row()`) into the verification table; ANALYZE it afterwards."""
    from django.db import connection

    from verification.models import SMSVerification

    table = SMSVerification._meta.db_table
    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for values in rows:
                copy.write_row(values)
                count += 1
        cursor.execute(f"ANALYZE {table}")
    return count


def random_phone(prefix: str = "+7999") -> str:
    import random

    return f"{prefix}{random.randint(0, 9_999_999):07d}"


# --- wrk -------------------------------------------------------------------------------
def ensure_wrk() -> str:
    """wrk from Debian's packages; installed with apt-get when missing (root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk")
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise RuntimeError("wrk is required: apt-get install wrk (Debian/Ubuntu) or build it")


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors (connect, read, write, timeout) + non-2xx/3xx answers
    non2xx: int
    raw: str = field(repr=False, default="")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    def number(pattern: str, default: float = 0.0) -> float:
        match = re.search(pattern, output)
        return float(match.group(1)) if match else default

    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.MULTILINE))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non2xx = int(number(r"Non-2xx or 3xx responses: (\d+)"))
    errors = non2xx + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0)
    return WrkResult(
        rps=number(r"Requests/sec:\s+([\d.]+)"),
        p50_ms=_ms(percentiles.get("50", "")),
        p99_ms=_ms(percentiles.get("99", "")),
        requests=int(number(r"(\d+) requests in")),
        errors=errors,
        non2xx=non2xx,
        raw=output,
    )


def run_wrk(
    url: str,
    *,
    script: Path,
    connections: int,
    seconds: int = WRK_SECONDS,
    threads: int = 2,
    timeout_s: int = 10,
    script_args: Sequence[str] = (),
) -> WrkResult:
    base = "/".join(url.split("/")[:3])
    wait_idle(base)
    argv = [
        ensure_wrk(), f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s",
        f"--timeout={timeout_s}s", "--latency", "-s", str(script), url,
    ]  # fmt: skip
    if script_args:
        argv += ["--", *script_args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def lua_script(name: str, body: str) -> Path:
    path = WORK_DIR / f"{name}.lua"
    path.write_text(body)
    return path


# Fresh random +7999XXXXXXX phones, seeded per wrk thread so threads do not repeat each other.
LUA_RANDOM_PHONE = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1000000))
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"phone": "+7999%07d"}', math.random(0, 9999999))
  return wrk.format(nil, nil, nil, body)
end
"""


# --- figures ---------------------------------------------------------------------------
def alternate(variants: dict[str, Callable[[], Any]], reps: int = REPS) -> dict[str, list[Any]]:
    """Run A, B, C, A, B, C ... `reps` times; results per variant in run order."""
    results: dict[str, list[Any]] = {name: [] for name in variants}
    for _ in range(reps):
        for name, run in variants.items():
            results[name].append(run())
    return results


def median(values: Iterable[float]) -> float:
    cleaned = [v for v in values if v == v]  # drop NaN
    return statistics.median(cleaned) if cleaned else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            if value != value:
                return "–"
            return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
        return str(value)

    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs ({model}), {mem_gib:.0f} GiB RAM, Python {sys.version.split()[0]}"
    )


def shell_quote(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
