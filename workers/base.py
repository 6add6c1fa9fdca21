"""The task base class for work whose source of truth is a database row (the outbox)."""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Any

from amqp.exceptions import AMQPError, MessageNacked
from celery import Task
from django.db import transaction
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a publish raises when the broker is unreachable, or (RabbitMQ) refuses the message.
PUBLISH_ERRORS = (KombuError, RedisError, AMQPError, MessageNacked, OSError)


class OutboxTask(Task):  # type: ignore[misc]
    """Publishing never fails the caller: the row stays `queued` and beat re-dispatches it.

    A request that committed its row must answer 202 even while the broker is down, so a
    failed publish is logged, not raised (celeryconfig bounds how long it may take).
    """

    # Retries are bounded by the row (a code's expiry), not by a count: Celery's default of
    # 3 retries would give up on a provider outage within seconds.
    max_retries = None

    def apply_async(self, *args: Any, **options: Any) -> Any:
        # RabbitMQ's publisher confirms wait for the broker's ack with no limit by default: a
        # broker that stops answering mid-publish would hold the request (or worker thread).
        options.setdefault("confirm_timeout", self.app.conf.broker_connection_timeout)
        countdown = options.get("countdown")
        if countdown and self.app.conf.task_default_queue_type == "quorum":
            # RabbitMQ's native delayed delivery (quorum queues) counts whole seconds and
            # refuses less than one: round up, never retry sooner than asked.
            options["countdown"] = max(1, math.ceil(countdown))
        return super().apply_async(*args, **options)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        transaction.on_commit(partial(self.publish, args, kwargs))

    def publish(self, args: tuple[Any, ...], kwargs: dict[str, Any], **options: Any) -> bool:
        try:
            self.apply_async(args, kwargs, **options)
        except PUBLISH_ERRORS as exc:
            logger.warning(
                "could not publish %s%s (%s); beat will re-dispatch it",
                self.name,
                args,
                type(exc).__name__,
            )
            return False
        return True
