"""Publishing work for the workers, by task name: the one place `verification` enqueues.

`workers` imports `verification` (a task loads ids and calls a service), so `verification`
never imports `workers`: it names the task and lets celeryconfig's `task_routes` pick the
queue. Publishing never fails the caller: a request that committed its row must answer 202
even while the broker is down, so a failed publish is logged, the row stays `queued`, and
beat re-dispatches it (celeryconfig bounds how long a publish may take).
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import datetime
from functools import partial
from typing import Any

from amqp.exceptions import AMQPError, MessageNacked
from django.conf import settings
from django.db import transaction
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from project import redis_publish
from project.celery import app

logger = logging.getLogger(__name__)

# The task names of workers/*.py: contracts with the worker and with celeryconfig's routes.
SEND_CODE = "sms.send_code"

# What a publish raises when the broker is unreachable, or (RabbitMQ) refuses the message.
PUBLISH_ERRORS = (KombuError, RedisError, AMQPError, MessageNacked, OSError)


def enqueue_send(verification_id: uuid.UUID | str, *, expires_at: datetime | None = None) -> None:
    """Publish the send task once the current transaction commits (at once outside one).

    A worker only finds committed rows; a rolled-back row is never published.
    """
    transaction.on_commit(partial(publish_send, verification_id, expires_at=expires_at))


def publish_send(verification_id: uuid.UUID | str, *, expires_at: datetime | None = None) -> bool:
    """Publish the send task now; False when the broker is unreachable.

    The message expires with the code (`expires_at`, else VERIFICATION_CODE_TTL from now):
    one still queued then is dropped unread.
    """
    expires = expires_at if expires_at is not None else settings.VERIFICATION_CODE_TTL
    return _publish(SEND_CODE, (str(verification_id),), expires=expires)


def publish_options(**options: Any) -> dict[str, Any]:
    """`options` of a publish, fitted to the broker (both Redis and RabbitMQ)."""
    # RabbitMQ's publisher confirms wait for the broker's ack with no limit by default: a
    # broker that stops answering mid-publish would hold the request (or worker thread).
    options.setdefault("confirm_timeout", app.conf.broker_connection_timeout)
    countdown = options.get("countdown")
    if countdown and app.conf.task_default_queue_type == "quorum":
        # RabbitMQ's native delayed delivery (quorum queues) counts whole seconds and
        # refuses less than one: round up, never run sooner than asked.
        options["countdown"] = max(1, math.ceil(countdown))
    return options


def _publish(name: str, args: tuple[Any, ...], **options: Any) -> bool:
    try:
        if options.keys() == {"expires"} and redis_publish.can_publish(app, name):
            # Redis broker: the same message in one LPUSH, without send_task's Python around
            # it (more than half of the publish's CPU; project/redis_publish.py).
            redis_publish.publish(app, name, args, expires=options["expires"])
        else:
            app.send_task(name, args, **publish_options(**options))
    except PUBLISH_ERRORS as exc:
        logger.warning(
            "could not publish %s%s (%s); beat will re-dispatch it", name, args, type(exc).__name__
        )
        return False
    return True
