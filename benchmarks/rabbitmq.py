"""RabbitMQ for the drain benchmark: its own virtual host, and send messages published there.

The orchestrator's Celery app is configured for Redis; messages for a RabbitMQ worker are
published by a child process whose settings name RabbitMQ, so the queues it declares are the
quorum queues the worker expects.

    python -m benchmarks.rabbitmq < "id expires_at" lines   (what publish_sends runs)
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from benchmarks import harness


def available() -> bool:
    """A RabbitMQ answers at RABBITMQ_URL and its virtual host exists (created if we can)."""
    parts = urlsplit(harness.RABBITMQ_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 1).close()
    except OSError:
        return False
    vhost = parts.path.lstrip("/")
    ctl = shutil.which("rabbitmqctl")
    if vhost and ctl:
        listed = subprocess.run(
            [ctl, "-q", "list_vhosts", "name"], capture_output=True, text=True, check=False
        )
        if vhost not in listed.stdout.split():
            subprocess.run([ctl, "-q", "add_vhost", vhost], check=False)
            subprocess.run(
                [ctl, "-q", "set_permissions", "-p", vhost, parts.username or "guest",
                 ".*", ".*", ".*"],
                check=False,
            )  # fmt: skip
    return True


def publish_sends(rows: list[tuple[uuid.UUID, datetime]], broker: str) -> None:
    """Empty the virtual host's queues, then publish one send message per row."""
    lines = "".join(f"{row_id} {expires.isoformat()}\n" for row_id, expires in rows)
    subprocess.run(
        [harness.PYTHON, "-m", "benchmarks.rabbitmq"],
        input=lines,
        text=True,
        cwd=harness.ROOT,
        env=harness.bench_env(CELERY_BROKER_URL=broker, LOG_LEVEL="WARNING"),
        check=True,
    )


def main() -> None:
    import django

    django.setup()
    from project.celery import app
    from verification import dispatch

    app.control.purge()  # a previous run's leftovers would be drained (for nothing) too
    for line in sys.stdin:
        row_id, expires = line.split()
        if not dispatch.publish_send(row_id, expires_at=datetime.fromisoformat(expires)):
            raise SystemExit(f"could not publish to {app.conf.broker_url}")


if __name__ == "__main__":
    main()
