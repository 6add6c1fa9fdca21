"""The benchmark's own PostgreSQL database and Redis database number: Django on them, set-up,
resets, and rows loaded with COPY. Never the databases others test on.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from benchmarks.harness import DATABASE_URL, PYTHON, REDIS_URL, ROOT, bench_env, log

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


@functools.cache
def _columns() -> tuple[Any, ...]:
    """The verification table's columns, as the model (and so the migrations) define them."""
    from verification.models import SMSVerification

    return tuple(SMSVerification._meta.concrete_fields)


def row(**values: Any) -> tuple[Any, ...]:
    """One row for copy_rows(): `values` by field name, the model's default for every other
    column (a fresh id, `queued`...), so a column a migration adds needs no change here."""
    values.setdefault("phone", "+79990000000")
    unknown = set(values) - {column.attname for column in _columns()}
    if unknown:
        raise TypeError(f"no such columns: {sorted(unknown)}")
    return tuple(
        values[column.attname] if column.attname in values else column.get_default()
        for column in _columns()
    )


def copy_rows(rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY rows (built with `row()`) into the verification table; ANALYZE it afterwards."""
    from django.db import connection

    from verification.models import SMSVerification

    table = SMSVerification._meta.db_table
    names = ", ".join(column.column for column in _columns())
    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for values in rows:
                copy.write_row(values)
                count += 1
        cursor.execute(f"ANALYZE {table}")
    return count


def random_phone(prefix: str = "+7999") -> str:
    import random

    return f"{prefix}{random.randint(0, 9_999_999):07d}"


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
