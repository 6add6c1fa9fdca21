"""Health of what a request depends on: the database (required), Redis and the broker."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from project.celery import app as celery_app

logger = logging.getLogger(__name__)

# Seconds a broker probe may take: the health check must answer fast however the broker is.
BROKER_PROBE_TIMEOUT = 1


def check_database() -> bool:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


def check_redis() -> bool:
    try:
        return bool(get_redis_connection("default").ping())
    except RedisError:
        return False


def check_broker() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            # Connecting a kombu channel pings the server (Redis) or opens it (AMQP).
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_PROBE_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; kombu raises many kinds
        logger.warning("broker unreachable: %s", type(exc).__name__)
        return False
    return True


def health() -> dict[str, str]:
    parts = {
        "database": check_database(),
        "redis": check_redis(),
        "broker": check_broker(),
    }
    if not parts["database"]:
        overall = "down"  # no code can be accepted
    elif all(parts.values()):
        overall = "ok"
    else:
        overall = "degraded"  # codes are still accepted and sent later
    return {"status": overall, **{name: "ok" if up else "down" for name, up in parts.items()}}
