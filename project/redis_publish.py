"""A task message straight onto its Redis list: send-code's publish without kombu's producer.

Celery's `send_task` spends about 0.4 ms of CPU per publish in Python around one LPUSH:
routing and option merging, the producer pool, the retry wrapper, declaring the queue,
kombu's message preparation and its channel's routing. That was the largest cost send-code
added to storing its row. For the plain case (a task by name with its args and an expiry,
on the Redis transport of `project.redis_transport`, from outside a task, no task-sent
event) this module builds the same message itself: headers and body by Celery's own
`as_task_v2`, kombu's Redis envelope around them, one LPUSH onto the queue's list with the
transport's socket options. Anything else (a countdown, RabbitMQ, a parent task to link,
events) goes through `send_task`. tests/integration/test_redis_publish.py checks that the
message is the one `send_task` puts, field for field, that a worker runs it, and that a
dropped or dead broker costs what it did before.
"""

from __future__ import annotations

import base64
import functools
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from celery import Celery, Task
from celery.app.task import extract_exec_options  # type: ignore[attr-defined]  # untyped
from celery.signals import after_task_publish, before_task_publish, task_sent
from celery.utils.nodenames import anon_nodename
from kombu.utils.json import dumps
from kombu.utils.uuid import uuid
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

TRANSPORT = "project.redis_transport:Transport"
# kombu's delivery mode of a persistent message.
PERSISTENT = 2


def can_publish(app: Celery, name: str) -> bool:
    """Whether `publish` may carry task `name`'s message instead of `send_task`."""
    task = app.tasks.get(name)
    return (
        _queue_of(app, name) is not None
        and (task is None or _plain(task))
        and not app.conf.task_send_sent_event
        and not task_sent.receivers  # the deprecated signal only send_task sends
        # A task published from a task is linked to it (root_id, parent_id) by send_task.
        and app.current_worker_task is None
    )


def publish(app: Celery, name: str, args: tuple[Any, ...], *, expires: datetime | float) -> None:
    """Push task `name`'s message onto the Redis list of its queue (`can_publish` first).

    `expires`: when the message is dropped unread (a datetime, or seconds from now). Raises
    what the Redis client raises when the broker cannot take it.
    """
    queue = _queue_of(app, name)
    if queue is None:
        raise ValueError(f"{name} is not routed to a plain queue: publish it with send_task")
    now = datetime.now(UTC)
    if isinstance(expires, datetime):
        expires_at, expires_in = expires, max(0.0, (expires - now).total_seconds())
    else:
        expires_at, expires_in = now + timedelta(seconds=expires), float(expires)
    task_id = uuid()
    # send_task copies a task registered in this process (a worker's) limits into the message.
    task = app.tasks.get(name)
    headers, properties, body, _ = app.amqp.as_task_v2(
        task_id,
        name,
        args,
        expires=expires_at,
        # What as_task_v2 would compute, cheaper: reprs of plain ids, this process's name.
        argsrepr=repr(args),
        kwargsrepr="{}",
        origin=_origin(),
        reply_to=app.thread_oid,
        ignore_result=None,  # type: ignore[arg-type]  # send_task's too: a null header
        time_limit=None if task is None else task.time_limit,
        soft_time_limit=None if task is None else task.soft_time_limit,
    )
    if before_task_publish.receivers:
        before_task_publish.send(
            sender=name, body=body, exchange="", routing_key=queue, declare=[],
            headers=headers, properties=properties, retry_policy=None,
        )  # fmt: skip
    properties.update(
        delivery_mode=PERSISTENT,
        expiration=str(int(expires_in * 1000)),
        delivery_info={"exchange": "", "routing_key": queue},
        priority=0,
        body_encoding="base64",
        delivery_tag=uuid(),
    )
    envelope = {
        "body": base64.b64encode(dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": properties,
    }
    publisher(app).lpush(queue, dumps(envelope))
    if after_task_publish.receivers:
        after_task_publish.send(
            sender=name, body=body, headers=headers, exchange="", routing_key=queue
        )


def publisher(app: Celery) -> redis.Redis:
    """This process's Redis client for the app's current broker."""
    return _client(app, app.conf.broker_url)


@functools.cache
def _client(app: Celery, url: str) -> redis.Redis:
    # celeryconfig's socket options for the transport. One immediate retry on a dropped
    # connection (a Redis restart leaves pooled sockets dead), as its publish retry policy
    # allows; none on a timeout, so a black-holed broker costs one socket timeout.
    # redis-py's pool reconnects in a forked child on its own.
    transport = app.conf.broker_transport_options or {}
    options = {name: transport[name] for name in _SOCKET_OPTIONS if name in transport}
    return redis.Redis.from_url(
        url, retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)), **options
    )


# celeryconfig's transport options that the client takes as they are.
_SOCKET_OPTIONS = (
    "socket_timeout", "socket_connect_timeout", "socket_keepalive", "health_check_interval"
)  # fmt: skip


@functools.cache
def _origin() -> str:
    """Celery's `origin` header: this process's name (forgotten in a forked child)."""
    return anon_nodename()


os.register_at_fork(after_in_child=_origin.cache_clear)


# What a registered task may set for send_task's message to be this module's.
_PLAIN_EXEC_OPTIONS = {"expires", "time_limit", "soft_time_limit", "serializer"}


@functools.cache
def _plain(task: Task) -> bool:
    """Whether a task registered in this process sets nothing for its messages that this
    module does not carry (a queue, a priority, another serializer...)."""
    options = {k: v for k, v in extract_exec_options(task).items() if v is not None}
    return options.keys() <= _PLAIN_EXEC_OPTIONS and options.get("serializer", "json") == "json"


@functools.cache
def _queue_of(app: Celery, name: str) -> str | None:
    """The list task `name`'s messages go to, on this module's transport, when task_routes
    names only a queue with a direct exchange: Celery then publishes through the default
    exchange with the queue's name as routing key, which kombu's Redis channel turns into an
    LPUSH onto that name."""
    if app.conf.broker_transport != TRANSPORT:
        return None
    route = app.amqp.router.route({}, name, (), {}, None)
    queue = route.get("queue")
    if queue is None or route.keys() != {"queue"}:
        return None
    if queue.exchange.type != "direct" or queue.max_priority:
        return None
    return str(queue.name)
