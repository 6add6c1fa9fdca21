"""send-code's publish on a Redis broker without kombu's producer (project/redis_publish.py):
the message a worker reads must be the one Celery's send_task would have put, and a lost
connection must cost no message."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.utils import timezone

from project import redis_publish
from project.celery import app as celery_app
from tests.helpers import broker_is_amqp, wait_for
from verification import dispatch
from verification.models import SMSVerification

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(broker_is_amqp(), reason="Redis broker only: RabbitMQ uses send_task"),
]

PHONE = "+79991234567"


@pytest.fixture
def broker() -> redis.Redis:
    return redis.Redis.from_url(celery_app.conf.broker_url)


def _raw_messages(broker: redis.Redis) -> list[dict[str, Any]]:
    """What is on the `sms` list, as kombu's Redis channel stored it (less the mark kombu
    adds to a message a consumer handed back)."""
    messages = [json.loads(raw) for raw in broker.lrange("sms", 0, -1)]
    for message in messages:
        message["headers"].pop("redelivered", None)
        message["properties"]["delivery_info"].pop("redelivered", None)
    return messages


def test_the_message_is_the_one_send_task_puts(sms_queue, broker):
    # given one verification id and one expiry, published both ways
    verification_id = str(uuid.uuid4())
    expires_at = timezone.now() + timedelta(seconds=300)
    assert redis_publish.can_publish(celery_app, dispatch.SEND_CODE)

    sent = celery_app.send_task(
        dispatch.SEND_CODE, (verification_id,), **dispatch.publish_options(expires=expires_at)
    )
    redis_publish.publish(celery_app, dispatch.SEND_CODE, (verification_id,), expires=expires_at)

    # then the two envelopes differ only in what is unique to a message
    (by_celery,) = [m for m in _raw_messages(broker) if m["headers"]["id"] == sent.id]
    (lean,) = [m for m in _raw_messages(broker) if m["headers"]["id"] != sent.id]
    assert lean.keys() == by_celery.keys()
    for unique in ("id", "root_id"):
        assert lean["headers"].pop(unique) != by_celery["headers"].pop(unique)
    assert lean["headers"] == by_celery["headers"]
    assert lean["properties"].pop("correlation_id") != by_celery["properties"].pop("correlation_id")
    assert lean["properties"].pop("delivery_tag") != by_celery["properties"].pop("delivery_tag")
    # the TTL in ms, counted from each publish's own moment
    ttl_lean = int(lean["properties"].pop("expiration"))
    ttl_celery = int(by_celery["properties"].pop("expiration"))
    assert 0 <= ttl_celery - ttl_lean < 1000
    assert lean["properties"] == by_celery["properties"]
    assert {k: v for k, v in lean.items() if k not in ("headers", "properties")} == {
        k: v for k, v in by_celery.items() if k not in ("headers", "properties")
    }

    # and kombu reads both back as the same task for the same row
    for _ in range(2):
        message = sms_queue.get(timeout=2)
        assert message.headers["task"] == dispatch.SEND_CODE
        assert message.payload[0] == [verification_id]
        assert message.headers["expires"] == expires_at.isoformat()
        message.ack()


@pytest.mark.usefixtures("live_worker", "sandbox_gateway")
def test_a_worker_sends_the_code_send_code_published(api_client, greensms_sandbox, task_events):
    # when: send-code publishes from a request (no parent task) on the Redis broker
    response = api_client.post("/api/auth/send-code/", {"phone": PHONE}, format="json")
    assert response.status_code == 202
    verification_id = response.json()["verification_id"]

    # then Celery's publish signal saw it, and a worker sent exactly that row's code
    assert task_events.published(dispatch.SEND_CODE) == [{}]
    (message,) = wait_for(lambda: greensms_sandbox.messages(to=PHONE))
    assert message["tag"] == verification_id
    assert wait_for(lambda: SMSVerification.objects.filter(id=verification_id, status="sent"))


def test_a_connection_the_broker_dropped_costs_no_message(sms_queue, broker):
    # given a publish that left its pooled connection behind
    assert dispatch.publish_send(uuid.uuid4()) is True
    sms_queue.get(timeout=2).ack()
    publisher = redis_publish.publisher(celery_app).client_id()

    # when Redis drops that connection (a restart, a failover, an idle timeout)
    assert broker.client_kill_filter(_id=publisher) == 1

    # then the next publish reconnects and its message arrives
    verification_id = uuid.uuid4()
    assert dispatch.publish_send(verification_id) is True
    assert sms_queue.get(timeout=2).payload[0] == [str(verification_id)]


def test_send_task_carries_what_this_path_cannot(monkeypatch):
    assert redis_publish.can_publish(celery_app, dispatch.SEND_CODE)
    # a task-sent event (Flower's "sent" state) is send_task's to emit
    monkeypatch.setitem(celery_app.conf, "task_send_sent_event", True)
    assert not redis_publish.can_publish(celery_app, dispatch.SEND_CODE)
