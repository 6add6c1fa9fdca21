"""What every benchmark shares: its own database, Redis database number and work directory,
the environment of every process it starts, and its log line.

A benchmark only ever touches its own database and its own Redis database number. The rest
of the toolkit, by concern: `processes` (process groups, stopping everything on the way out,
ports, CPU and memory), `procfile` (the Procfile's web and worker lines, the sandbox),
`databases` (Django on the benchmark database, resets, COPY loading), `load` (wrk) and
`reporting` (alternation, medians, tables).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
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
# RabbitMQ for the drain benchmark's broker comparison, in a virtual host of its own.
RABBITMQ_URL = os.environ.get(
    "BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/verification_bench"
)
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
